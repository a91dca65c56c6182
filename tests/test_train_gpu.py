"The one-GPU recipe, `tools/train_gpu.sh`, on the CPU with a tiny epoch count: it trains, writes fp16 weights that load strictly, and resumes."
import os, subprocess, sys
from pathlib import Path

import torch

from pidnet_nb.config import get_config
from pidnet_nb.fast_train import write_pack
from pidnet_nb.model import load_pretrained, pidnet_s

ROOT = Path(__file__).resolve().parent.parent


def _recipe(out, pack, *extra):
    cmd = ['bash', str(ROOT / 'tools' / 'train_gpu.sh'), str(out), '--pack', str(pack), '--device', 'cpu', '--epochs', '2',
           '--batch', '2', '--warmup', '1', *extra, 'TRAIN.IMAGE_SIZE', '[240, 180]']
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, 'PYTHON': sys.executable}, timeout=900)


def test_train_gpu_script_runs_on_the_cpu(tmp_path):
    pack = write_pack(get_config('camvid/pidnet_small_camvid'), tmp_path / 'pack.pt', limit=4, progress=False)
    r = _recipe(tmp_path / 'out', pack, '--stop-after', '1')
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'epoch 1 of 2' in r.stdout and 'rerun to continue' in r.stdout and not (tmp_path / 'out' / 'weights.pt').exists()
    r = _recipe(tmp_path / 'out', pack)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'resumed from' in r.stdout and 'epoch 2 of 2 (4 steps)' in r.stdout
    weights = tmp_path / 'out' / 'weights.pt'
    assert weights.stat().st_size < 16e6
    sd = torch.load(weights, weights_only=True)
    assert sd['meta']['epochs'] == 2 and all(v.dtype == torch.float16 for v in sd['model'].values() if v.is_floating_point())
    report = load_pretrained(pidnet_s(num_classes=11, augment=True), weights)  # strict: every key, every shape
    assert 'loaded' in str(report)
    assert 'epoch 2/2' in (tmp_path / 'out' / 'log.txt').read_text()


def test_train_fast_refuses_a_file_that_is_not_a_pack(tmp_path):
    torch.save({'model': {}}, tmp_path / 'weights.pt')
    r = _recipe(tmp_path / 'out', tmp_path / 'weights.pt')
    assert r.returncode == 1 and 'Traceback' not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith('pidnet-nb train-fast: error:') and 'pidnet-nb pack' in r.stderr
