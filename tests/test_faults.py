"""The third round of faults (a hostile or careless user): code run from a file name, outputs over inputs, folders of
the user's files replaced, two writers in one folder, silent wrong results, hangs, leftovers. Each test fails
without the mechanism it names; the helpers are those of `test_bad_input.py`."""
import errno, http.server, json, os, signal, subprocess, sys, threading, time
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from test_bad_input import CAMVID, CFG, QAT, WEIGHTS, cli, data, refused, snapshot  # noqa: F401 (data is a fixture)

from pidnet_nb.core import PidnetError, atomic_save, os_fault
from pidnet_nb.model import pidnet_s


def stand_in_rknnlite(tmp_path) -> Path:
    "A stand-in `rknnlite` package (there is no board here): enough for run_on_rk3588.py to run through."
    pkg = tmp_path / 'stand_in' / 'rknnlite'; pkg.mkdir(parents=True)
    (pkg / '__init__.py').write_text('')
    (pkg / 'api.py').write_text('class RKNNLite:\n    NPU_CORE_0, NPU_CORE_0_1_2 = 1, 7\n'
                                '    def load_rknn(self, p): return 0\n    def init_runtime(self, core_mask): return 0\n'
                                '    def inference(self, inputs): pass\n    def release(self): pass\n')
    return pkg.parent


# --- 1. code executed ---

@pytest.mark.parametrize('name', ['x"""; import os; os.system("touch INJECTED"); """y.rknn', 'a\\N{b}.rknn', "q'; touch INJECTED; '.rknn"])
def test_rknn_board_script_takes_any_name_as_a_literal(tmp_path, name):
    d = tmp_path / 'd'; d.mkdir()
    (d / name).write_bytes(b'a model'); (d / 'rknn.json').write_text(json.dumps({'input_hw': [360, 480]}))
    rc, out, err = cli('board', '--rknn', d / name, cwd=tmp_path)
    assert rc == 0, err[-2000:]
    script = d / 'run_on_rk3588.py'
    compile(script.read_text(), str(script), 'exec')  # valid Python, whatever the name
    ran = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                         env={'PYTHONPATH': str(stand_in_rknnlite(tmp_path)), 'PATH': '/usr/bin:/bin'})
    assert ran.returncode == 0 and 'rknn perf: cores=0_1_2' in ran.stdout, ran.stderr[-2000:]
    assert not list(tmp_path.rglob('INJECTED'))


def test_j5_board_script_names_the_model_once_as_a_quoted_word(tmp_path):
    d = tmp_path / 'd'; d.mkdir()
    hbm = d / 'm"; touch INJECTED; echo ".hbm'; hbm.write_bytes(b'')
    rc, out, err = cli('board', '--hbm', hbm, cwd=tmp_path)
    assert rc == 0, err[-2000:]
    script = (d / 'run_on_board.sh').read_text()
    assert script.count(hbm.name) == 1 and all(hbm.name not in l for l in script.splitlines() if l.startswith('#'))
    assert subprocess.run(['sh', '-n', str(d / 'run_on_board.sh')]).returncode == 0


# --- 2-4. data lost ---

def test_compile_never_replaces_a_folder_of_the_users_files(tmp_path):
    cx = tmp_path / 'cx'; cx.mkdir()
    (cx / 'my_qat.pt').write_bytes(QAT.read_bytes()); (cx / 'NOTES.txt').write_text('my notes\n')
    refused(['compile', '-c', CFG, '--calib', cx / 'my_qat.pt', '--out', cx], 'holds the --calib file', cwd=tmp_path, inputs=cx)
    notes = tmp_path / 'notes'; notes.mkdir(); (notes / 'NOTES.txt').write_text('mine\n')
    refused(['compile', '-c', CFG, '--calib', QAT, '--out', notes], 'compile folder', 'holds other files', 'choose a new or empty folder',
            cwd=tmp_path, inputs=notes)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['cx', 'notes']  # nothing made beside them either


def test_no_output_is_an_input_of_the_same_command(tmp_path):
    w = tmp_path / 'w.pt'; w.write_bytes(WEIGHTS.read_bytes())
    refused(['eval', '-c', CFG, '--json', w, 'TEST.MODEL_FILE', w], '--json', 'is the TEST.MODEL_FILE file', cwd=tmp_path, inputs=tmp_path)
    log = tmp_path / 'p.log'; log.write_text((Path(__file__).parent / 'fixtures' / 'horizon' / 'hrt_model_exec_perf.log').read_text())
    refused(['board', '--parse', log, '--json', log], 'is the --parse file', cwd=tmp_path, inputs=tmp_path)
    m = tmp_path / 'm.onnx'; m.write_bytes(b'a model')
    refused(['perf', m, '--json', tmp_path / '.' / 'm.onnx'], 'is the --models file', cwd=tmp_path, inputs=tmp_path)
    os.link(w, tmp_path / 'hard.pt')  # the same file under another name
    refused(['eval', '-c', CFG, '--json', tmp_path / 'hard.pt', 'TEST.MODEL_FILE', w], 'writing it would destroy', cwd=tmp_path, inputs=tmp_path)


@pytest.mark.parametrize('command', [['calibrate', '--batches', 1], ['compile', '--calib', QAT], ['qat', '--calib', QAT]])
def test_a_second_writer_of_one_folder_is_refused_naming_the_first(tmp_path, command):
    import fcntl
    out = tmp_path / 'out'
    with open(tmp_path / '.out.lock', 'a+') as held:  # what a first command holds while it writes `out`
        fcntl.flock(held, fcntl.LOCK_EX); held.write('process 1 (pidnet-nb calibrate)'); held.flush()
        refused([command[0], '-c', CFG, *command[1:], '--out', out], 'in use by process 1 (pidnet-nb calibrate)', cwd=tmp_path)
    assert not out.exists()


# --- 5-13. silent wrong results ---

def test_calibration_records_what_it_ran_on_and_resumes_only_on_an_exact_match(tmp_path, data):
    calibrate = lambda split: cli('calibrate', '-c', CFG, '--batches', 50, '--out', tmp_path / 'c', 'DATASET.ROOT', data,
                                  'DATASET.TRAIN_SET', split, cwd=tmp_path)
    rc, out, err = calibrate('train')
    assert rc == 0, err[-2000:]
    assert 'calibrated on 3 batches of train' in out and 'asked for more than the 3 images' in out  # what ran, not what was asked
    rc, out, err = calibrate('test')
    assert rc == 0, err[-2000:]
    assert 'made with other split' in out + err and 'calibrated on 3 batches of test' in out
    tag = torch.load(tmp_path / 'c' / 'calib-checkpoint-last.pt', weights_only=True)['tag']
    assert (tag['split'], tag['batches'], tag['input_hw']) == ('test', 3, [360, 480])


def test_a_calibration_without_a_weights_digest_is_refused(tmp_path):
    c = torch.load(QAT, weights_only=True)
    tag = {k: v for k, v in c['tag'].items() if k != 'weights_sha256'}
    atomic_save({**c, 'tag': tag}, tmp_path / 'old.pt')
    refused(['eval', '-c', CFG, '--stage', 'calib', '--limit', 1, '--calib', tmp_path / 'old.pt'], 'records no digest',
            cwd=tmp_path, inputs=tmp_path)


def test_perf_names_a_file_by_what_it_holds(tmp_path):
    import onnx
    from onnx import TensorProto, helper as h
    folder = tmp_path / 'compile'; folder.mkdir()
    g = h.make_graph([h.make_node('Relu', ['x'], ['y'])], 'g', [h.make_tensor_value_info('x', TensorProto.FLOAT, [1, 3, 8, 8])],
                     [h.make_tensor_value_info('y', TensorProto.FLOAT, [1, 3, 8, 8])])
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 17)]), str(folder / 'model_int8.onnx'))  # a float model
    refused(['perf', folder, '--frames', 1], 'model_int8.onnx: named int8 but holds no quantized operator', cwd=tmp_path)


def rknn_folder(tmp_path, report:dict) -> Path:
    d = tmp_path / 'rk'; d.mkdir(exist_ok=True)
    for f in ('model.rknn', 'model_npu.onnx'): (d / f).write_bytes(b'a model')
    (d / 'rknn.json').write_text(report if isinstance(report, str) else json.dumps(report))
    return d


def test_rknn_reports_are_checked_before_use(tmp_path):
    from pidnet_nb.rk3588 import _sha256, rknn_report
    good = {'target': 'rk3588', 'toolkit': '2.5.0', 'settings': {}, 'input_hw': [360, 480], 'weights_sha256': '0' * 16,
            'rknn_sha256': '1' * 16, 'calibration': {'split': 'train', 'images': 100, 'seed': 0, 'algorithm': 'normal'}}
    d = rknn_folder(tmp_path, good)  # model.rknn replaced: not the file the report records
    with pytest.raises(PidnetError, match='not the model its rknn.json records'): rknn_report(d / 'model.rknn')
    d = rknn_folder(tmp_path, {**good, 'rknn_sha256': _sha256(d / 'model.rknn')})
    assert rknn_report(d / 'model.rknn')['input_hw'] == [360, 480]
    for text, said in {'{"input_hw": "abc"}': "input_hw 'abc' is not valid", '{}': 'no input_hw field', 'not json': 'not a JSON report'}.items():
        d = rknn_folder(tmp_path, text)
        refused(['board', '--rknn', d / 'model.rknn'], said, cwd=tmp_path, inputs=d)
        assert not (d / 'run_on_rk3588.py').exists()


def test_infer_skips_what_it_cannot_read_whole_and_names_any_file(tmp_path):
    rgb = cv2.imread(str(CAMVID / 'test' / sorted(os.listdir(CAMVID / 'test'))[0]))
    src = tmp_path / 'in'; src.mkdir()
    cv2.imwrite(str(src / 'whole.jpg'), rgb)
    (src / 'cut.jpg').write_bytes((src / 'whole.jpg').read_bytes()[: (src / 'whole.jpg').stat().st_size // 3])  # 11
    (src / os.fsdecode(b'caf\xe9.png')).write_bytes(cv2.imencode('.png', rgb)[1].tobytes())  # 14: not UTF-8
    os.mkfifo(src / 'a.png')  # 17: never ends
    cv2.imwrite(str(src / 'huge.png'), np.zeros((10000, 10000), np.uint8))  # 18: 300 KB, 100 megapixels
    rc, out, err = cli('infer', '-c', CFG, '--stage', 'float', '--input', src, '--output', tmp_path / 'out', cwd=tmp_path, timeout=300)
    assert rc == 0, err[-2000:]
    assert sorted(f.name for f in (tmp_path / 'out').iterdir()) == sorted(
        [os.fsdecode(b'caf\xe9_png_mask.png'), os.fsdecode(b'caf\xe9_png_side.png'), 'whole_jpg_mask.png', 'whole_jpg_side.png'])
    skipped = {l.split(':')[0].rsplit('/', 1)[-1]: l for l in out.splitlines() if l.startswith('skipped')}
    assert set(skipped) == {'cut.jpg', 'a.png', 'huge.png'} and 'truncated' in skipped['cut.jpg'], out
    assert 'not a regular file' in skipped['a.png'] and 'megapixel limit' in skipped['huge.png'] and '3 skipped' in out


def test_predict_mask_takes_the_common_image_forms():
    from pidnet_nb.masks import predict_mask
    torch.manual_seed(0)
    model = pidnet_s(num_classes=11).eval()
    rgb = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    want = predict_mask(model, rgb)
    for form in (rgb / 255, rgb.astype(np.float32) / 255, np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]), rgb.transpose(2, 0, 1)):
        assert np.array_equal(predict_mask(model, form), want)
    assert predict_mask(model, rgb[..., 0]).shape == (64, 96)
    with pytest.raises(PidnetError, match='give uint8'): predict_mask(model, rgb * 1.0)
    with pytest.raises(PidnetError, match=r'give \(H, W, 3\) RGB'): predict_mask(model, rgb[None, None])


def test_library_edges_say_what_is_expected():
    from pidnet_nb.masks import stages_picture
    from pidnet_nb.metrics import confusion_matrix, evaluate
    cm = confusion_matrix(np.array([[0, 1]], np.uint8), np.array([[0, 0]], np.uint8), 2)  # 28: NumPy masks
    assert cm.tolist() == [[1, 1], [0, 0]]
    with pytest.raises(PidnetError, match='limit 0: give at least 1'): evaluate(lambda x: x, [], limit=0)  # 13
    with pytest.raises(PidnetError, match='no masks given'): stages_picture(np.zeros((2, 2, 3), np.uint8), {}, None)  # 29


# --- 14-20. crashes and hangs ---

def test_endless_and_deep_yaml_are_refused_at_once(tmp_path):
    laughs = 'a: &a [x, x, x, x, x, x, x, x, x, x]\n' + ''.join(
        f'{c}: &{c} [{", ".join([f"*{p}"] * 10)}]\n' for p, c in zip('abcdefgh', 'bcdefghi'))
    (tmp_path / 'laughs.yaml').write_text(laughs)
    (tmp_path / 'deep.yaml').write_text('A: ' + '[' * 20000 + ']' * 20000 + '\n')
    t = time.perf_counter()
    refused(['eval', '-c', tmp_path / 'laughs.yaml'], 'expand to more than', cwd=tmp_path)
    refused(['eval', '-c', tmp_path / 'deep.yaml'], 'nested more than', cwd=tmp_path)
    assert time.perf_counter() - t < 60


def test_workers_are_bounded(tmp_path):
    refused(['eval', '-c', CFG, 'WORKERS', 100000], 'WORKERS 100000: give 0', cwd=tmp_path)


class Trickle(http.server.BaseHTTPRequestHandler):
    "A loopback server of bad replies: one byte now and then, an endless body, a bad length, or no HTTP at all."
    def log_message(self, *a): pass
    def do_GET(self):
        kind = self.path.strip('/').split('/')[0]
        if kind == 'garbage': self.wfile.write(b'SSH-2.0-not-http\r\n\r\n'); return
        self.send_response(200)
        self.send_header('Content-Length', 'abc' if kind == 'badlength' else str(10 ** 9))
        self.end_headers()
        try:
            for _ in range(60 if kind == 'trickle' else 300_000):
                self.wfile.write(b'x' if kind == 'trickle' else b'x' * 1024 if kind == 'endless' else b''); self.wfile.flush()
                if kind == 'trickle': time.sleep(0.5)
                if kind == 'badlength': return
        except (BrokenPipeError, ConnectionResetError): pass


@pytest.fixture
def bad_server():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()


def test_downloads_stop_on_stalls_oversize_and_non_http(tmp_path, bad_server, monkeypatch):
    import pidnet_nb.download as dl
    monkeypatch.setattr(dl, 'LOW_SPEED', (1024, 2))  # 16: the same rule as (1024, 60), in a test's time
    t = time.perf_counter()
    with pytest.raises(dl.DownloadError, match='stalled'): dl.fetch(f'{bad_server}/trickle', 'train.txt', tmp_path, '0' * 64, size=100)
    assert time.perf_counter() - t < 20
    with pytest.raises(dl.DownloadError, match='more than the'): dl.fetch(f'{bad_server}/endless', 'train.txt', tmp_path, '0' * 64, size=19043)  # 19
    assert not (tmp_path / 'train.txt.part').exists() or (tmp_path / 'train.txt.part').stat().st_size == 0
    with pytest.raises(dl.DownloadError, match='did not answer as an HTTP server'): dl.fetch(f'{bad_server}/garbage', 'a.png', tmp_path, '0' * 64)  # 23
    with pytest.raises(dl.DownloadError, match='does not match the manifest'): dl.fetch(f'{bad_server}/badlength', 'a.png', tmp_path, '0' * 64)
    src = tmp_path / 'src'; src.mkdir(); (src / 'test.txt').write_bytes(bytes(range(256)) * 4)  # a binary list file
    with pytest.raises(dl.DownloadError, match='does not match the manifest'): dl.fetch(str(src), 'test.txt', tmp_path / 'dest', '0' * 64, size=12225)


# --- 21-29. one line for a bad file ---

def test_damaged_checkpoints_are_one_line(tmp_path):
    c = torch.load(QAT, weights_only=True)
    cases = {'intkeys.pt': ({3: torch.zeros(1)}, 'TEST.MODEL_FILE', 'key 3 is not a parameter name'),
             'list.pt': ({**c, 'state': [1, 2]}, '--calib', 'its state is not tensors by name (a list)'),
             'str.pt': ({**c, 'tag': 'qat'}, '--calib', 'its settings are a str'),
             'missing.pt': ({**c, 'state': {k: v for k, v in list(c['state'].items())[1:]}}, '--calib', 'does not fit the model'),
             'islands.pt': ({**c, 'tag': {**c['tag'], 'float': ['pag3']}}, '--calib', 'does not fit the model'),
             'kind.pt': ({**c, 'tag': {**c['tag'], 'kind': 'fast'}}, '--calib', "setting kind 'fast' is not one pidnet_nb writes"),
             'calib_kind.pt': ({**c, 'tag': {**c['tag'], 'kind': 'calib'}}, '--calib', 'does not fit the model'),  # QAT state, calib kind
             'qat_as_weights.pt': (c, 'TEST.MODEL_FILE', 'pass it as --calib')}
    for name, (obj, where, said) in cases.items():
        torch.save(obj, tmp_path / name)
        args = ['eval', '-c', CFG, '--stage', 'calib', '--limit', 1] + (['--calib', tmp_path / name] if where == '--calib' else ['TEST.MODEL_FILE', tmp_path / name])
        refused(args, name, said, cwd=tmp_path)


def test_damaged_packs_are_one_line(tmp_path):
    from pidnet_nb.fast_train import load_pack
    torch.save({'images': [1, 2], 'labels': [3, 4], 'names': ['a', 'b']}, tmp_path / 'ints.pt')
    torch.save({'images': [], 'labels': [], 'names': []}, tmp_path / 'empty.pt')
    with pytest.raises(PidnetError, match='item 0 is not an encoded image'): load_pack(tmp_path / 'ints.pt')
    with pytest.raises(PidnetError, match='a pack with no images'): load_pack(tmp_path / 'empty.pt')


def test_wrong_shapes_and_a_full_temporary_folder_are_named():
    from pidnet_nb.model import load_pretrained
    model = pidnet_s(num_classes=11)
    sd = {k: (v[:1] if k == 'conv1.0.weight' else v) for k, v in model.state_dict().items()}
    with pytest.raises(PidnetError, match=r'e\.g\. conv1\.0\.weight'): load_pretrained(model, sd)  # 27
    assert 'a temporary file in' in os_fault(OSError(errno.ENOSPC, 'No space left on device'))  # 26


# --- 30-31. left behind ---

def test_sigterm_during_compile_is_handled_as_ctrl_c(tmp_path):
    out = tmp_path / 'compile'
    p = subprocess.Popen([sys.executable, '-m', 'pidnet_nb.cli', 'compile', '-c', CFG, '--calib', str(QAT), '--out', str(out)],
                         cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(2400):  # until the new folder holds its first file
        if any(d.name.endswith('.tmp') and any(d.iterdir()) for d in tmp_path.iterdir() if d.is_dir()) or p.poll() is not None: break
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 143 and 'Traceback' not in err, err[-2000:]
    assert 'pidnet-nb compile: terminated (SIGTERM); the --out folder is as it was before' in err
    assert list(tmp_path.iterdir()) == []  # no temporary folder, no lock


def test_leftovers_of_a_killed_writer_are_removed_by_the_next(tmp_path):
    ended = subprocess.Popen(['true']); ended.wait()
    stale = tmp_path / f'.calib-checkpoint.{ended.pid}.tmp.pt'; stale.write_bytes(b'x' * 1000)
    stale_dir = tmp_path / f'.compile.{ended.pid}.tmp'; stale_dir.mkdir()
    atomic_save({'a': torch.zeros(1)}, tmp_path / 'calib-checkpoint.pt')
    from pidnet_nb.core import atomic_folder
    with atomic_folder(tmp_path / 'compile') as f: (f / 'summary.json').write_text('{}')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['calib-checkpoint.pt', 'compile']
