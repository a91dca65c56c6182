"""Bad input through the real command line (`python -m pidnet_nb.cli`), one case per way a careful or careless user
can get it wrong. Each case asserts the exit status, that the message is one line naming the file or value and the
fix, that no traceback is printed (unless PIDNET_DEBUG=1), and that no input file was changed or lost."""
import hashlib, json, math, os, pathlib, re, signal, subprocess, sys, threading, time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from pidnet_nb.config import get_config, weights_file
from pidnet_nb.download import camvid_root
from pidnet_nb.model import pidnet_s

CFG = 'camvid/pidnet_small_camvid'
WEIGHTS = weights_file(get_config(CFG)).resolve()
CAMVID = camvid_root(progress=False)


def cli(*args, cwd, debug=False, timeout=600):
    "Run `python -m pidnet_nb.cli ARGS` in `cwd`; (exit status, stdout, stderr)."
    env = {k: v for k, v in os.environ.items() if k != 'PIDNET_DEBUG'}
    if debug: env['PIDNET_DEBUG'] = '1'
    r = subprocess.run([sys.executable, '-m', 'pidnet_nb.cli', *map(str, args)], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def snapshot(folder:Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob('*')) if p.is_file()}


def refused(args, *expect, cwd, inputs=None, status=1):
    "Run a case that must fail: exit `status`, one error line containing each of `expect`, no traceback, inputs intact."
    before = snapshot(inputs) if inputs else None
    rc, out, err = cli(*args, cwd=cwd)
    assert rc == status, (rc, out[-2000:], err[-2000:])
    assert 'Traceback' not in err + out, err[-3000:]
    lines = [l for l in err.splitlines() if l.strip()]
    error = [l for l in lines if 'error:' in l]
    assert len(error) == 1 and error[0].startswith('pidnet-nb '), err[-2000:]
    for e in expect: assert e in error[0], (e, error[0])
    if inputs: assert snapshot(inputs) == before, 'an input file was changed or lost'
    return error[0]


@pytest.fixture
def data(tmp_path):
    "A small SegNet-layout CamVid copy (3 test, 3 train images) to break in each case."
    root = tmp_path / 'camvid'
    for split in ('test', 'train'):
        lines = (CAMVID / f'{split}.txt').read_text().splitlines()[:3]
        for line in lines:
            for rel in line.split():
                (root / rel).parent.mkdir(parents=True, exist_ok=True); (root / rel).write_bytes((CAMVID / rel).read_bytes())
        (root / f'{split}.txt').write_text('\n'.join(lines) + '\n')
    return root


def first_pair(root:Path, split='test'):
    return [root / p for p in (root / f'{split}.txt').read_text().split()[:2]]


def ev(root, *extra): return ['eval', '-c', CFG, '--workers', 0, 'DATASET.ROOT', root, *extra]


# --- data ---

def test_missing_and_empty_root(tmp_path):
    refused(ev(tmp_path / 'nowhere'), 'nowhere: dataset folder not found', 'pidnet-nb download camvid', cwd=tmp_path)
    (tmp_path / 'empty').mkdir()
    msg = refused(ev(tmp_path / 'empty'), 'empty: no CamVid list files', 'pidnet-nb download camvid', cwd=tmp_path)
    assert '.lst: list file not found' not in msg  # it used to name the other layout's list file


def test_list_names_a_missing_image(data, tmp_path):
    image, _ = first_pair(data); image.unlink()
    refused(ev(data), f'{image.name}: missing or not a readable image', cwd=tmp_path, inputs=data)


@pytest.mark.parametrize('damage', ['truncated', 'random bytes'])
def test_damaged_image(data, tmp_path, damage):
    image, _ = first_pair(data)
    image.write_bytes(image.read_bytes()[:2000] if damage == 'truncated' else os.urandom(4000))
    refused(ev(data), f'{image.name}: missing or not a readable image', cwd=tmp_path, inputs=data)


def test_label_value_200(data, tmp_path):
    _, label = first_pair(data)
    lbl = cv2.imread(str(label), cv2.IMREAD_UNCHANGED); lbl[:10] = 200; cv2.imwrite(str(label), lbl)
    refused(ev(data), f'{label.name}: label values [200] are not classes', cwd=tmp_path, inputs=data)
    # the same with the default loader process: the worker's traceback is not passed on
    refused(['eval', '-c', CFG, 'DATASET.ROOT', data], f'{label.name}: label values [200] are not classes', cwd=tmp_path, inputs=data)


def test_16_bit_label(data, tmp_path):
    _, label = first_pair(data)
    lbl = cv2.imread(str(label), cv2.IMREAD_UNCHANGED).astype(np.uint16); lbl[:10] = 300; cv2.imwrite(str(label), lbl)
    refused(ev(data), f'{label.name}: a uint16 label image', 'save it as 8-bit', cwd=tmp_path, inputs=data)


def test_one_column_and_empty_list(data, tmp_path):
    (data / 'test.txt').write_text('test/only_an_image.png\n')
    refused(ev(data), 'test.txt, line 1', 'is not an "IMAGE LABEL" pair', cwd=tmp_path, inputs=data)
    (data / 'test.txt').write_text('\n')
    refused(ev(data), 'the split is empty', cwd=tmp_path, inputs=data)


def test_crlf_list_is_read(data, tmp_path):
    (data / 'test.txt').write_bytes((data / 'test.txt').read_bytes().replace(b'\n', b'\r\n'))
    rc, out, err = cli('eval', '-c', CFG, '--workers', 0, '--limit', 1, 'DATASET.ROOT', data, cwd=tmp_path)
    assert rc == 0 and 'on 1 images' in out, err[-2000:]


# --- weights ---

class Payload:
    "Pickled code: loading it with pickle would create the file `path`."
    def __init__(self, path): self.path = path
    def __reduce__(self): return (pathlib.Path.touch, (pathlib.Path(self.path),))


def test_weights_files(tmp_path, data):
    w = tmp_path / 'weights'; w.mkdir()
    (w / 'random.pt').write_bytes(np.random.default_rng(0).bytes(5000))  # fixed bytes: random ones fail in different places
    (w / 'notes.pt').write_text('these are my notes, not weights\n')
    torch.save({'model': {'conv1.0.weight': Payload(tmp_path / 'pwned')}}, w / 'nested_code.pt')
    torch.save(Payload(tmp_path / 'pwned'), w / 'top_code.pt')
    sd = pidnet_s(num_classes=11, augment=True).state_dict()
    torch.save({'model': {**sd, 'final_layer.conv2.weight': torch.full_like(sd['final_layer.conv2.weight'], math.nan)}}, w / 'nan.pt')
    torch.save({'model': pidnet_s(num_classes=19, augment=True).state_dict()}, w / 'cityscapes19.pt')
    torch.save({}, w / 'empty.pt'); torch.save([1, 2], w / 'list.pt')
    (w / 'cut.pt').write_bytes(WEIGHTS.read_bytes()[:100000])
    cases = {'missing.pt': 'no such checkpoint file', 'random.pt': 'torch checkpoint', 'notes.pt': 'notes.pt: not a',
             'nested_code.pt': 'could run code', 'top_code.pt': 'could run code', 'nan.pt': 'NaN or infinite values',
             'cityscapes19.pt': 'checkpoint has 19 classes, model has 11', 'empty.pt': 'strict loading failed',
             'list.pt': 'holds a list, not a state dict', 'cut.pt': 'may be truncated'}
    for name, expect in cases.items():
        msg = refused(ev(data, 'TEST.MODEL_FILE', w / name), name, expect, cwd=tmp_path, inputs=w)
        assert 'weights_only=False' not in msg  # never the advice to load untrusted pickles
    assert not (tmp_path / 'pwned').exists()


# --- options ---

def test_config_options(tmp_path):
    refused(['eval', '-c', 'camvid/pidnet_tiny'], 'camvid/pidnet_tiny: no such config', 'bundled:', cwd=tmp_path)
    refused(['eval', '-c', CFG, 'TEST.BOGUS', 1], 'Non-existent key: TEST.BOGUS', cwd=tmp_path)
    refused(['eval', '-c', CFG, 'TEST.BATCH_SIZE_PER_GPU', 'two'], 'Type mismatch', 'TEST.BATCH_SIZE_PER_GPU', cwd=tmp_path)
    refused(['eval', '-c', CFG, 'TEST.FLIP_TEST'], 'KEY VALUE pairs', cwd=tmp_path)
    refused(['eval', '-c', CFG, 'TEST.BATCH_SIZE_PER_GPU', 0], 'TEST.BATCH_SIZE_PER_GPU 0: must be at least 1', cwd=tmp_path)
    for bad in ('0', '-1'):
        refused(['eval', '-c', CFG, '--limit', bad], f'argument --limit: {bad} is not a positive number', cwd=tmp_path)
    refused(['eval', '-c', CFG, '--stage', 'bogus'], "argument --stage: invalid choice: 'bogus'", cwd=tmp_path)
    refused(['infer', '-c', CFG, '--input', tmp_path, '--output', tmp_path / 'o', '--ext', '.foo'], '--ext .foo: OpenCV cannot write', cwd=tmp_path)
    (tmp_path / 'broken.yaml').write_text('MODEL: [unclosed\n')
    refused(['eval', '-c', tmp_path / 'broken.yaml'], 'broken.yaml', cwd=tmp_path)


def test_debug_shows_the_traceback(tmp_path):
    rc, _, err = cli('eval', '-c', CFG, 'TEST.BOGUS', 1, cwd=tmp_path, debug=True)
    assert rc == 1 and 'Traceback' in err and 'PidnetError' in err


def test_json_is_strict_and_undefined_is_null(tmp_path):
    untrained, sd = tmp_path / 'road.pt', pidnet_s(num_classes=11, augment=True).state_dict()
    sd['final_layer.conv2.weight'].zero_(); sd['final_layer.conv2.bias'].zero_()[6] = 1  # 'road' everywhere
    torch.save({'model': sd}, untrained)
    rc, out, err = cli('eval', '-c', CFG, '--limit', 1, '--workers', 0, '--json', tmp_path / 's.json', 'TEST.MODEL_FILE', untrained, cwd=tmp_path)
    assert rc == 0, err[-2000:]
    text = (tmp_path / 's.json').read_text()
    record = json.loads(text, parse_constant=lambda c: pytest.fail(f'{c} in JSON'))
    assert 'NaN' not in text and None in record['per_class_iou'].values()  # one image lacks some classes


# --- quantization ---

def test_calibration_files(tmp_path):
    c = tmp_path / 'calib'; c.mkdir()
    (c / 'notes.pt').write_text('not a calibration\n')
    torch.save({'tag': Payload(tmp_path / 'pwned'), 'state': {}}, c / 'code.pt')
    args = ['eval', '-c', CFG, '--stage', 'int8', '--limit', 1, '--calib']
    refused(args + [c / 'missing.pt'], 'missing.pt: no calibration checkpoint', 'pidnet-nb calibrate', cwd=tmp_path)
    refused(args + [c / 'notes.pt'], 'notes.pt: not a', cwd=tmp_path, inputs=c)
    refused(args + [c / 'code.pt'], 'could run code', cwd=tmp_path, inputs=c)
    refused(args + [WEIGHTS], 'not a calibration checkpoint', 'calib-checkpoint-last.pt', cwd=tmp_path)
    torch.save({'state': {'conv1.0.weight': torch.full((2,), math.nan), 'obs.scale': torch.ones(1)}, 'tag': {'kind': 'qat'}}, c / 'nan.pt')
    refused(args + [c / 'nan.pt'], 'nan.pt: 1 tensors hold NaN or infinite values', 'lower --lr', cwd=tmp_path, inputs=c)  # a diverged QAT
    assert not (tmp_path / 'pwned').exists()


def test_horizon_backend_without_the_plugin(tmp_path):
    pytest.importorskip('torch')
    if __import__('importlib').util.find_spec('horizon_plugin_pytorch'): pytest.skip('the plugin is installed here')
    refused(['calibrate', '-c', CFG, '--backend', 'horizon', '--batches', 1, '--out', tmp_path / 'c'],
            'horizon_plugin_pytorch is not installed', cwd=tmp_path)


def test_fewer_batches_start_over_and_say_why(tmp_path):
    "A 3-batch calibration, then `--batches 2`: not resumed from the 3-batch ranges (that was a silent wrong result)."
    def calibrate(n):
        rc, out, err = cli('calibrate', '-c', CFG, '--batches', n, '--out', tmp_path / 'c', cwd=tmp_path)
        assert rc == 0, err[-2000:]
        return out, torch.load(tmp_path / 'c' / 'calib-checkpoint-last.pt', weights_only=True)
    _, three = calibrate(3)
    said, two = calibrate(2)
    assert 'made with other batches: starting over' in said
    assert two['tag']['batches'] == 2 and two['batches'] == 2
    observers = [k for k in three['state'] if k.endswith('max_val')]
    assert any(not torch.equal(three['state'][k], two['state'][k]) for k in observers)


def test_ctrl_c_keeps_the_checkpoint_and_says_how_to_resume(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != 'PIDNET_DEBUG'}
    # A shell's background job (`make test &`, nohup) ignores SIGINT, and a child inherits that: Python then installs no
    # KeyboardInterrupt handler and the signal is lost. Restore the default in the child, as in a terminal.
    p = subprocess.Popen([sys.executable, '-m', 'pidnet_nb.cli', 'calibrate', '-c', CFG, '--batches', '200', '--out', str(tmp_path / 'c')],
                         cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    ckpt = tmp_path / 'c' / 'calib-checkpoint.pt'
    for _ in range(1200):
        if ckpt.exists() or p.poll() is not None: break
        time.sleep(0.25)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 130, err[-2000:]
    assert 'Traceback' not in err and err.strip().splitlines()[-1] == \
        'pidnet-nb calibrate: interrupted; calibration checkpoints written so far are kept; rerun the same command to resume'
    assert 10 <= torch.load(ckpt, weights_only=True)['batches'] < 200
    rc, out, err = cli('calibrate', '-c', CFG, '--batches', 200, '--out', tmp_path / 'c', cwd=tmp_path)
    assert rc == 0 and 'starting over' not in out, err[-2000:]  # the same command resumes
    assert torch.load(tmp_path / 'c' / 'calib-checkpoint-last.pt', weights_only=True)['batches'] == 200


# --- download ---

class HalfHandler(SimpleHTTPRequestHandler):
    "Promises each whole file (Content-Length) but sends half of it, then closes the connection."
    def log_message(self, *a): pass
    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if not path.is_file(): return self.send_error(404)
        data = path.read_bytes()
        self.send_response(200); self.send_header('Content-Length', str(len(data))); self.end_headers()
        self.wfile.write(data[:len(data) // 2]); self.wfile.flush()
        self.close_connection = True


def test_download_source_problems(tmp_path):
    refused(['download', 'camvid', '--dest', tmp_path / 'd', '--source', tmp_path / 'no-mirror'],
            'no-mirror: source folder not found', cwd=tmp_path)
    server = ThreadingHTTPServer(('127.0.0.1', 0), partial(HalfHandler, directory=str(CAMVID)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        msg = refused(['download', 'camvid', '--dest', tmp_path / 'd', '--source', f'http://127.0.0.1:{server.server_address[1]}'],
                      'transfer stopped before the end of the file', 'rerun to resume', cwd=tmp_path)
        assert 'corrupt' not in msg
    finally: server.shutdown()
    assert list((tmp_path / 'd').glob('*.part'))  # what arrived is kept for the rerun to resume


# --- the world around the model: output places, limits, hostile names ---

QAT = (Path(__file__).resolve().parent.parent / 'pretrained_models' / 'camvid' / 'pidnet_s_camvid_qat.pt')


def test_a_config_is_data_never_code(tmp_path):
    (tmp_path / 'evil.py').write_text(f'open({str(tmp_path / "INJECTED")!r}, "w")\n')
    refused(['eval', '-c', tmp_path / 'evil.py'], 'evil.py: a config is a .yaml file', cwd=tmp_path)
    assert not (tmp_path / 'INJECTED').exists()
    cases = {'loop.yaml': ('MODEL: &x {NAME: *x}\n', 'anchors refer to themselves'),
             'list.yaml': ('- MODEL\n- DATASET\n', 'its top level is a list'),
             'binary.yaml': (WEIGHTS.read_bytes()[:400], 'not a text file')}
    for name, (text, expect) in cases.items():
        (tmp_path / name).write_bytes(text if isinstance(text, bytes) else text.encode())
        refused(['eval', '-c', tmp_path / name], name, expect, cwd=tmp_path)


def test_values_out_of_any_sane_range(tmp_path):
    refused(['eval', '-c', CFG, 'DATASET.NUM_CLASSES', 100000], 'DATASET.NUM_CLASSES 100000: at most 255', cwd=tmp_path)
    refused(['eval', '-c', CFG, 'TEST.IMAGE_SIZE', '[100000, 100000]'], 'each from 8 to 8192 pixels', cwd=tmp_path)
    refused(['train', '-c', CFG, '--out', tmp_path / 't', 'TRAIN.BATCH_SIZE_PER_GPU', 1], 'at least 2 images per batch (BatchNorm)', cwd=tmp_path)
    refused(['qat', '-c', CFG, '--lr', -1], 'argument --lr: -1 is not a positive finite number', cwd=tmp_path)
    refused(['qat', '-c', CFG, '--lr', 'nan'], 'argument --lr: nan is not a positive finite number', cwd=tmp_path)
    refused(['eval', '-c', CFG, '--device', 'bogus'], "'bogus' is not a device", cwd=tmp_path)
    if not torch.cuda.is_available():
        refused(['eval', '-c', CFG, '--device', 'cuda'], 'no CUDA GPU is visible on this machine', cwd=tmp_path)
    refused(['eval', '-c', CFG, '--workers', -1], 'argument --workers: -1 is below 0', cwd=tmp_path)
    refused(['summary', '--size', 0, 0], 'argument --size: 0 is not a positive number', cwd=tmp_path)
    many = 10 * (os.cpu_count() or 1)
    refused(['perf', '--threads', many, 'compile'], f'{many} threads on a machine with {os.cpu_count()} CPUs', cwd=tmp_path)
    refused(['perf', 'compile', '--threads', 0], 'argument --threads: 0 is not a positive number', cwd=tmp_path)


def test_options_after_the_overrides_are_not_overrides(tmp_path):
    refused(['eval', '-c', CFG, 'TEST.FLIP_TEST', 'False', '--limit', 1], '--limit comes after the KEY VALUE overrides', cwd=tmp_path)


def test_runtime_ort_is_onnxruntime():
    from pidnet_nb.cli import build_parser
    args = build_parser().parse_args(['eval', '-c', CFG, '--stage', 'int8', '--runtime', 'ort'])
    assert args.runtime == 'onnxruntime'


@pytest.fixture(scope='module')
def tiny_onnx(tmp_path_factory):
    from pidnet_nb.runtime import export_onnx
    d = tmp_path_factory.mktemp('tiny')
    return export_onnx(pidnet_s(num_classes=11).eval(), torch.randn(1, 3, 64, 64), d / 'model_fp32.onnx')


def test_perf_reads_options_after_the_models(tmp_path, tiny_onnx):
    rc, out, err = cli('perf', tiny_onnx.parent, '--threads', 1, '--frames', 2, '--warmup', 0, '--json', tmp_path / 'p.json', cwd=tmp_path)
    assert rc == 0, err[-2000:]
    rows = json.loads((tmp_path / 'p.json').read_text())
    assert [r['threads'] for r in rows] == [1] and '2 frames after 0 warm-up runs' in out
    (tmp_path / 'empty').mkdir()
    refused(['perf', tmp_path / 'empty'], 'empty: a folder without model_fp32.onnx', cwd=tmp_path)
    (tmp_path / 'cut.onnx').write_bytes(tiny_onnx.read_bytes()[:3000])
    refused(['perf', tmp_path / 'cut.onnx', '--threads', 1], 'cut.onnx: ONNX Runtime cannot load it', cwd=tmp_path)


def test_a_file_where_a_folder_is_wanted(tmp_path, data):
    f = tmp_path / 'taken'; f.write_text('my notes\n')
    cases = {('compile', '-c', CFG, '--calib', QAT, '--out', f): 'a file stands where the compile folder should be',
             ('infer', '-c', CFG, '--input', tmp_path, '--output', f): 'a file stands where a folder is needed',
             ('train', '-c', CFG, '--out', f): 'a file stands where a folder is needed',
             ('calibrate', '-c', CFG, '--out', f): 'a file stands where a folder is needed',
             ('board', '--parse', f, '--json', f / 'rows.json'): 'a file stands where a folder is needed',
             ('pack', '-c', CFG, '--pack', f / 'pack.pt'): 'a file stands where a folder is needed',
             ('eval', '-c', CFG, '--json', f / 'scores.json'): 'a file stands where a folder is needed',
             ('compile', '-c', CFG, '--calib', QAT, '--out', '/proc/pidnet-out'): 'none can be made there'}
    for args, expect in cases.items():
        refused(list(args), expect, cwd=tmp_path, inputs=tmp_path if args[0] != 'compile' or 'proc' in str(args[-1]) else None)
    assert f.read_text() == 'my notes\n'
    env = {**os.environ, 'PIDNET_DATA': str(f)}
    r = subprocess.run([sys.executable, '-m', 'pidnet_nb.cli', 'download', 'camvid'], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 1 and 'Traceback' not in r.stderr and 'taken/camvid: a file stands where a folder is needed' in r.stderr, r.stderr[-2000:]


def test_eval_checks_its_json_place_before_the_work(tmp_path, data):
    rc, out, err = cli('eval', '-c', CFG, '--workers', 0, '--json', tmp_path, 'DATASET.ROOT', data, cwd=tmp_path)
    assert rc == 1 and 'a folder stands where the file should be' in err and 'Traceback' not in err, err[-2000:]
    assert 'images/s' not in out  # refused before evaluating


@pytest.fixture
def small_fs(tmp_path):
    "A 1 MB tmpfs (needs root; else the test skips, saying why)."
    if os.geteuid() != 0: pytest.skip('mounting a small tmpfs needs root; run the suite as root to cover full and read-only disks')
    mnt = tmp_path / 'mnt'; mnt.mkdir()
    if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', str(mnt)], capture_output=True).returncode:
        pytest.skip('this machine does not allow mounting a tmpfs (a container without CAP_SYS_ADMIN)')
    yield mnt
    subprocess.run(['umount', str(mnt)])


def test_read_only_and_full_disks(tmp_path, small_fs):
    refused(['calibrate', '-c', CFG, '--out', small_fs / 'cal'], 'MB free, about 64 MB needed', cwd=tmp_path)
    subprocess.run(['dd', 'if=/dev/zero', f'of={small_fs / "filler"}', 'bs=64k'], capture_output=True)  # fill the disk
    refused(['board', '--parse', project_file_log(), '--json', small_fs / 'rows.json'], 'no space left on the device', cwd=tmp_path)
    (small_fs / 'filler').unlink()
    subprocess.run(['mount', '-o', 'remount,ro', str(small_fs)], check=True)
    refused(['calibrate', '-c', CFG, '--out', small_fs / 'cal'], 'cal: on a read-only file system', cwd=tmp_path)
    refused(['eval', '-c', CFG, '--json', small_fs / 's.json'], 'on a read-only file system', cwd=tmp_path)


def project_file_log() -> Path: return Path(__file__).resolve().parent / 'fixtures' / 'horizon' / 'hrt_model_exec_perf.log'


def test_infer_never_writes_into_its_input(tmp_path):
    photos = tmp_path / 'photos'; photos.mkdir()
    cv2.imwrite(str(photos / 'street.png'), np.zeros((36, 48, 3), np.uint8))
    refused(['infer', '-c', CFG, '--input', photos, '--output', f'{photos}/'], 'is the --input folder', cwd=tmp_path, inputs=photos)


def test_board_logs_are_named(tmp_path):
    (tmp_path / 'logs').mkdir(); (tmp_path / 'notes.log').write_text('hello\n')
    refused(['board', '--parse', tmp_path / 'logs'], 'logs: a folder; give the log file', cwd=tmp_path)
    refused(['board', '--parse', tmp_path / 'notes.log'], '--parse', 'notes.log: not the output of `hrt_model_exec perf`', cwd=tmp_path)


def test_qat_refuses_a_run_without_steps(tmp_path):
    cal = tmp_path / 'cal'
    rc, _, err = cli('calibrate', '-c', CFG, '--batches', 1, '--out', cal, cwd=tmp_path)
    assert rc == 0, err[-2000:]
    refused(['qat', '-c', CFG, '--calib', cal / 'calib-checkpoint-last.pt', '--limit', 2, '--epochs', 1, '--out', tmp_path / 'q'],
            '2 training images make no batch of 8', cwd=tmp_path)
    assert not list((tmp_path / 'q').glob('*.pt'))


def test_two_downloads_into_one_folder_take_turns(tmp_path):
    import fcntl
    dest = tmp_path / 'camvid'; dest.mkdir()
    with open(dest / '.lock', 'a+') as held:  # this test holds the lock, as a first download would
        fcntl.flock(held, fcntl.LOCK_EX); held.write('process 1 (a first download)'); held.flush()
        p = [subprocess.Popen([sys.executable, '-m', 'pidnet_nb.cli', 'download', 'camvid', '--dest', str(dest), '--source', str(CAMVID)],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        time.sleep(8)
        assert all(q.poll() is None for q in p)  # both wait
        fcntl.flock(held, fcntl.LOCK_UN)
    results = [q.communicate(timeout=600) for q in p]
    assert [q.returncode for q in p] == [0, 0], results
    assert any('held by process 1 (a first download); waiting until it is done' in err for _, err in results)
    assert (dest / '.verified').exists() and not list(dest.rglob('*.part'))


def test_ctrl_c_during_compile_keeps_the_old_folder_whole(tmp_path):
    out = tmp_path / 'compile'; out.mkdir()
    for name, text in {'model_int8.onnx': 'the old model', 'check.json': '{"old": true}', 'summary.json': '{"old": true}'}.items():
        (out / name).write_text(text)
    before = snapshot(out)
    env = {k: v for k, v in os.environ.items() if k != 'PIDNET_DEBUG'}
    p = subprocess.Popen([sys.executable, '-m', 'pidnet_nb.cli', 'compile', '-c', CFG, '--calib', str(QAT), '--out', str(out)],
                         cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for _ in range(2400):  # until the new folder holds its first file
        if any(d.name.endswith('.tmp') and any(d.iterdir()) for d in tmp_path.iterdir() if d.is_dir() and d.name.startswith('.compile.')) or p.poll() is not None: break
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 130 and 'Traceback' not in err, err[-2000:]
    assert 'pidnet-nb compile: interrupted; the --out folder is as it was before' in err
    assert snapshot(out) == before and sorted(d.name for d in tmp_path.iterdir()) == ['compile']


def test_board_script_quotes_a_hostile_model_name(tmp_path):
    d = tmp_path / 'd'; d.mkdir()
    hbm = d / 'my model$(touch INJECTED).hbm'; hbm.write_bytes(b'')
    rc, out, err = cli('board', '--hbm', hbm, cwd=tmp_path)
    assert rc == 0, err[-2000:]
    script = d / 'run_on_board.sh'
    assert subprocess.run(['sh', '-n', str(script)]).returncode == 0
    fake = tmp_path / 'bin' / 'hrt_model_exec'; fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nprintf "[%s]" "$@"; echo\n'); fake.chmod(0o755)
    ran = subprocess.run(['sh', str(script)], cwd=tmp_path, capture_output=True, text=True, env={**os.environ, 'PATH': f'{fake.parent}:{os.environ["PATH"]}'})
    assert ran.returncode == 0 and '[--model_file][my model$(touch INJECTED).hbm]' in ran.stdout, ran.stdout + ran.stderr
    assert not list(tmp_path.rglob('INJECTED'))
