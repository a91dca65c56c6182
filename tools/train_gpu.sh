#!/usr/bin/env bash
# The one-GPU recipe in one call: PIDNet-S from scratch on CamVid in about eight minutes on one H100 or H200.
#   tools/train_gpu.sh OUT [pidnet-nb train-fast options]     e.g. tools/train_gpu.sh runs/gpu --minutes 8
# It needs Python 3.12 with PyTorch, OpenCV, NumPy and tqdm. Wheels in wheels/ are installed first (for a machine
# without internet: `make gpu-kit` puts yacs there and writes the CamVid pack, data/camvid_pack.pt).
# OUT receives weights.pt (fp16), log.txt, history.json and checkpoint.pt; the same call again resumes.
set -euo pipefail
out=${1:?usage: tools/train_gpu.sh OUT [pidnet-nb train-fast options]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)  # paths given on the command line stay relative to the caller's folder
python=${PYTHON:-python3}
if compgen -G "$root/wheels/*.whl" >/dev/null; then
  site=${TMPDIR:-/tmp}/pidnet_nb_site
  "$python" -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$site" "$root"/wheels/*.whl
  export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$root${PYTHONPATH:+:$PYTHONPATH}
exec "$python" -m pidnet_nb.cli train-fast -c camvid/pidnet_small_camvid --out "$out" --minutes 8 "$@" DATASET.TRAIN_SET train+val
