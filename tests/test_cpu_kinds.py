"""The int8 kernels of a CPU without VNNI, run for real: QEMU's user-mode emulator runs this very Python stack as a
Zen 3 EPYC (`-cpu EPYC-Milan`: AVX2, no AVX-512, no VNNI), so ONNX Runtime picks its AVX2 kernels, whatever CPU the
test runs on. The shipped QAT file's int8 model gives the same logits there as here, bit for bit; a one-convolution
model with full-range 8-bit weights shows that the emulated kernels really are the saturating ones."""
import shutil, subprocess, sys

import numpy as np
import pytest

from pidnet_nb.config import build_dataset, example_input, get_config, load_model, weights_file
from pidnet_nb.core import cpu_int8, pairs_saturate
from pidnet_nb.stages import open_calibration
from pidnet_nb.runtime import export_onnx, int8_conv_model, write_openvino

QEMU = shutil.which('qemu-x86_64')
RUN = '''import sys, numpy as np
for model, x, out in zip(*[iter(sys.argv[1:])] * 3):
    if model.endswith('.xml'):  # OpenVINO, everything that is not int8 in fp32 (AVX2 CPUs have no bf16)
        import openvino as ov
        m = ov.Core().compile_model(model, 'CPU', {'INFERENCE_NUM_THREADS': 1, 'INFERENCE_PRECISION_HINT': 'f32'})
        np.save(out, m(np.load(x))[0])
    else:
        import onnxruntime as ort
        o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.log_severity_level = 3
        s = ort.InferenceSession(model, o, providers=['CPUExecutionProvider'])
        np.save(out, s.run(None, {s.get_inputs()[0].name: np.load(x)})[0])
'''


def run_here_and_emulated(tmp_path, pairs):
    "Run each (onnx, input array) here and under QEMU as an AVX2-only CPU; [(native, emulated)] outputs."
    (tmp_path / 'run.py').write_text(RUN)
    args = []
    for i, (model, x) in enumerate(pairs):
        np.save(tmp_path / f'x{i}.npy', x)
        args += [str(model), str(tmp_path / f'x{i}.npy'), str(tmp_path / f'{{}}{i}.npy')]
    for where, cmd in (('native', [sys.executable]), ('avx2', [QEMU, '-cpu', 'EPYC-Milan', sys.executable])):
        r = subprocess.run(cmd + [str(tmp_path / 'run.py')] + [a.format(where) for a in args], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
    return [(np.load(tmp_path / f'native{i}.npy'), np.load(tmp_path / f'avx2{i}.npy')) for i in range(len(pairs))]


@pytest.mark.skipif(QEMU is None, reason='qemu-user is not installed (`apt-get install qemu-user`; CI installs it): '
                                         'no AVX2-only CPU to run the int8 kernels on')
def test_shipped_int8_model_is_exact_on_an_avx2_cpu(tmp_path):
    cfg = get_config('camvid/pidnet_small_camvid')
    cal = open_calibration(cfg, load_model(cfg, verbose=False), weights_file(cfg).parent / 'pidnet_s_camvid_qat.pt')
    shipped = export_onnx(cal.backend.convert(cal.prepared), example_input(cfg), tmp_path / 'model_int8.onnx')
    conv = int8_conv_model(tmp_path / 'one_conv.onnx', channels=64, size=(16, 16))  # 8-bit weights over the full range
    image = build_dataset(cfg)[0][0][None].numpy()
    probe = np.random.default_rng(0).uniform(0, 12, (1, 64, 16, 16)).astype(np.float32)  # codes across 0..240
    xml = write_openvino(shipped, tmp_path / 'model_int8.xml')
    (ours, ours_avx2), (one, one_avx2), (ov, ov_avx2) = run_here_and_emulated(tmp_path, [(shipped, image), (conv, probe), (xml, image)])
    print(f'this CPU: {cpu_int8()}; 8-bit one-conv model, emulated AVX2 vs here: max |diff| {np.abs(one - one_avx2).max():.3g}; '
          f'OpenVINO: max |diff| {np.abs(ov - ov_avx2).max():.3g}, classes agree on {100 * (ov.argmax(1) == ov_avx2.argmax(1)).mean():.3f}%')
    assert np.array_equal(one, one_avx2) == pairs_saturate(cpu_int8())  # the emulator runs the saturating kernels
    assert np.array_equal(ours, ours_avx2)  # ONNX Runtime: the same logits, bit for bit
    # OpenVINO: its fp32 kernels differ by ISA in the order of their sums, so not bit for bit; the int8 ones do not clip
    assert np.abs(ov - ov_avx2).max() < 0.05 and (ov.argmax(1) == ov_avx2.argmax(1)).mean() > 0.999
