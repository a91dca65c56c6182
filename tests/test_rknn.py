"""The RK3588 path for real: rknn-toolkit2 in its own environment (`make rknn`, `.venv-rknn`) compiles the shipped
weights and its simulator scores them, through the same `pidnet-nb` commands a user types there. Skipped, with the
reason, only where that environment could not be built. The main environment's one-line errors and the board step
(which needs no toolkit) are checked here too."""
import json, subprocess, sys
from pathlib import Path

import pytest
import torch

from pidnet_nb.config import build_dataset, get_config, load_model
from pidnet_nb.metrics import evaluate
from pidnet_nb.model import weights_digest
from pidnet_nb.rk3588 import parse_rknn_perf

ROOT = Path(__file__).resolve().parent.parent
RKNN_ENV = ROOT / '.venv-rknn'
WEIGHTS = ['TEST.MODEL_FILE', 'pretrained_models/camvid/pidnet_s_camvid.pt']
needs_env = pytest.mark.skipif(not (RKNN_ENV / '.installed').exists(),
                               reason='the rknn environment is not built here: `make rknn` failed or was not run (see its output)')

def pidnet_nb(*args, env_bin=None, timeout=900):
    "Run `pidnet-nb` (of the main environment, or of `env_bin`); the completed process."
    exe = str(env_bin / 'pidnet-nb') if env_bin else str(Path(sys.executable).parent / 'pidnet-nb')
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT)

@pytest.fixture(scope='module')
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp('rk3588')
    r = pidnet_nb('compile', '-c', 'camvid/pidnet_small_camvid', '--target', 'rk3588', '--out', out, *WEIGHTS, env_bin=RKNN_ENV / 'bin')
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return out

@needs_env
def test_compile_writes_the_model_and_its_report(compiled):
    assert sorted(p.name for p in compiled.iterdir()) == ['model.rknn', 'model_npu.onnx', 'rknn.json']
    report = json.loads((compiled / 'rknn.json').read_text())
    cfg = get_config('camvid/pidnet_small_camvid', WEIGHTS)
    assert report['weights_sha256'] == weights_digest(load_model(cfg, verbose=False))
    assert report['operators']['CPU'] == 0 and report['off_npu'] == [] and report['operators']['NPU'] > 150
    assert len(report['resizes_rewritten']) == 7
    assert report['calibration'] == {'split': cfg.DATASET.TRAIN_SET, 'images': 100, 'seed': 0, 'algorithm': 'normal'}
    assert (compiled / 'model.rknn').stat().st_size > 5_000_000

@needs_env
def test_simulator_scores_close_to_float(compiled, tmp_path):
    record = tmp_path / 'sim.json'
    r = pidnet_nb('eval', '-c', 'camvid/pidnet_small_camvid', '--runtime', 'rknn-sim', '--rknn', compiled / 'model.rknn',
                  '--limit', '4', '--workers', '0', '--json', record, *WEIGHTS, env_bin=RKNN_ENV / 'bin')
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert 'simulated by rknn-toolkit2' in r.stdout
    sim = json.loads(record.read_text())
    assert (sim['runtime'], sim['simulated'], sim['target'], sim['images']) == ('rknn-sim', True, 'rk3588', 4)
    cfg = get_config('camvid/pidnet_small_camvid', WEIGHTS)
    float_miou = evaluate(load_model(cfg, verbose=False), build_dataset(cfg), limit=4, progress=False, num_workers=0).miou
    assert abs(sim['miou'] - float_miou) < 0.02, (sim['miou'], float_miou)

@needs_env
def test_the_chapter_module_imports_in_the_rknn_environment():
    r = subprocess.run([str(RKNN_ENV / 'bin' / 'python'), '-c', 'import pidnet_nb.cli, pidnet_nb.rk3588 as r; print(r.toolkit_version())'],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == '2.5.0', r.stderr[-2000:]

def test_without_the_toolkit_compile_says_how_to_get_it():
    if subprocess.run([sys.executable, '-c', 'import rknn.api'], capture_output=True).returncode == 0:
        pytest.skip('the toolkit is importable in this environment')
    r = pidnet_nb('compile', '-c', 'camvid/pidnet_small_camvid', '--target', 'rk3588', *WEIGHTS)
    assert r.returncode == 1 and 'Traceback' not in r.stderr
    assert r.stderr.strip().startswith('pidnet-nb compile: error: rknn-toolkit2 is not installed') and 'make rknn' in r.stderr
    r = pidnet_nb('eval', '-c', 'camvid/pidnet_small_camvid', '--runtime', 'rknn-sim', *WEIGHTS)
    assert r.returncode == 1 and 'make rknn' in r.stderr and len(r.stderr.strip().splitlines()) == 1

def test_bad_target_and_missing_model_are_one_line(tmp_path):
    r = pidnet_nb('compile', '-c', 'camvid/pidnet_small_camvid', '--target', 'rk9999')
    assert r.returncode == 1 and "invalid choice: 'rk9999'" in r.stderr and 'Traceback' not in r.stderr
    r = pidnet_nb('board', '--rknn', tmp_path / 'none' / 'model.rknn')
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and 'compile --target rk3588' in r.stderr

def test_board_script_runs_and_its_log_parses(tmp_path):
    "The board step against a stand-in `rknnlite` (no board here): the script's flow, its quoting and the parser."
    folder = tmp_path / 'a dir; $(touch INJECTED)'
    folder.mkdir()
    (folder / 'model.rknn').write_bytes(b'not a real model')
    (folder / 'rknn.json').write_text(json.dumps({'input_hw': [360, 480]}))
    r = pidnet_nb('board', '--rknn', folder / 'model.rknn')
    assert r.returncode == 0, r.stderr
    script = folder / 'run_on_rk3588.py'
    stand_in = tmp_path / 'stand_in' / 'rknnlite'
    stand_in.mkdir(parents=True)
    (stand_in / '__init__.py').write_text('')
    (stand_in / 'api.py').write_text('class RKNNLite:\n    NPU_CORE_0, NPU_CORE_0_1_2 = 1, 7\n'
                                     '    def load_rknn(self, p): return 0 if p.endswith("model.rknn") else -1\n'
                                     '    def init_runtime(self, core_mask): return 0\n'
                                     '    def inference(self, inputs): assert inputs[0].shape == (1, 360, 480, 3)\n'
                                     '    def release(self): pass\n')
    ran = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path,
                         env={'PYTHONPATH': str(stand_in.parent), 'PATH': '/usr/bin:/bin'})
    assert ran.returncode == 0, ran.stderr
    assert not (tmp_path / 'INJECTED').exists() and not (folder / 'INJECTED').exists()
    rows = parse_rknn_perf(ran.stdout)
    assert [r['frames'] for r in rows] == [100, 100] and all(r['fps'] > 0 for r in rows)
    log = tmp_path / 'rknn_perf.log'
    log.write_text(ran.stdout)
    r = pidnet_nb('board', '--parse', log)
    assert r.returncode == 0 and 'RK3588 NPU cores 0_1_2' in r.stdout and 'RK3588 board' in r.stdout

@needs_env
def test_sigterm_during_the_rk3588_compile_leaves_no_temporary_files(tmp_path):
    "SIGTERM is handled as Ctrl-C: the toolkit's temporary folders (about 200 MB) go with the command."
    tmp, out = tmp_path / 'tmp', tmp_path / 'out'
    tmp.mkdir()
    p = subprocess.Popen([str(RKNN_ENV / 'bin' / 'pidnet-nb'), 'compile', '-c', 'camvid/pidnet_small_camvid', '--target', 'rk3588',
                          '--out', str(out), *WEIGHTS], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**__import__('os').environ, 'TMPDIR': str(tmp)})
    for _ in range(1200):  # until the compile's temporary folder holds its export
        if any(f.is_file() for f in tmp.rglob('*.onnx')) or p.poll() is not None: break
        __import__('time').sleep(0.1)
    __import__('time').sleep(3)  # into the toolkit's own work
    p.terminate()
    _, err = p.communicate(timeout=300)
    assert p.returncode == 143 and 'Traceback' not in err, err[-3000:]
    assert 'terminated (SIGTERM)' in err and list(tmp.iterdir()) == []
