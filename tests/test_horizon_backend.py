"""The horizon path through the real command line, against a stand-in of Horizon's plugin with the documented module
paths and signatures (tests/horizon_standin.py). The real plugin ships only in Horizon's OE docker."""
import contextlib, io, json
from pathlib import Path

import cv2
import pytest
import torch

import horizon_standin
from pidnet_nb.cli import main
from pidnet_nb.core import project_file
from pidnet_nb.download import camvid_root
from pidnet_nb.model import pidnet_s
from pidnet_nb.surgery import check_deployable

CFG = 'camvid/pidnet_small_camvid'


@pytest.fixture
def plugin(monkeypatch, tmp_path):
    "The stand-in installed, and the working folder a temporary one (check_qconfig writes into it)."
    monkeypatch.chdir(tmp_path)
    return horizon_standin.install(monkeypatch)


def run(*argv) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out): main([str(a) for a in argv])
    return out.getvalue()


@pytest.fixture
def calibrated(plugin, tmp_path):
    "A horizon calibration on two training images, made by `pidnet-nb calibrate --backend horizon`."
    said = run('calibrate', '-c', CFG, '--backend', 'horizon', '--batches', 2, '--out', tmp_path / 'calib')
    return tmp_path / 'calib' / 'calib-checkpoint-last.pt', said


def test_calibrate_follows_the_walkthrough(calibrated, plugin, tmp_path):
    _, said = calibrated
    names = [n for n, _ in plugin]
    assert names[:2] == ['set_march', 'prepare_qat_fx'] and names[-1] == 'check_qconfig'
    assert {kw['mode'].name for n, kw in plugin if n == 'set_fake_quantize'} == {'CALIBRATION'}  # once per batch
    assert plugin[0][1]['march'] == 'bayes'  # March.BAYES is the string 'bayes', J5's march
    prepare = dict(plugin)['prepare_qat_fx']
    assert prepare['qconfig_dict'] == {'': horizon_standin.CALIB_QCONFIG,
                                       'module_name': {'final_layer.conv2': horizon_standin.INT32_OUT_QCONFIG}}
    model = prepare['model']
    assert type(model.quant).__module__ == 'horizon_standin' and type(model.dequant) is torch.quantization.DeQuantStub
    rows = check_deployable(model, torch.zeros(1, 3, 360, 480)).rows
    assert [r for r in rows if r['module'] not in ('quant', 'dequant')] == []  # the plugin gets the surgered, J5-clean graph
    assert (tmp_path / 'calib' / 'qconfig_info.txt').exists() and 'check_qconfig: ' in said  # beside the checkpoints


def test_openvino_runtime_is_refused_in_one_line(calibrated, plugin):
    "A horizon calibration runs in the plugin's own model: `--runtime openvino` is a user's mistake, said in one line."
    calib, _ = calibrated
    refusal = "a horizon calibration runs in the plugin's own model; drop --runtime|needs OpenVINO"  # the OE docker has no OpenVINO
    with pytest.raises(SystemExit, match=refusal):
        run('eval', '-c', CFG, '--stage', 'int8', '--runtime', 'openvino', '--calib', calib, '--limit', 1)


def test_compile_writes_the_walkthroughs_artifacts(calibrated, plugin, tmp_path):
    "Defect 2: `compile` used to read the open path's summary keys and die with KeyError after compiling."
    calib, _ = calibrated
    said = run('compile', '-c', CFG, '--calib', calib, '--out', tmp_path / 'compile')
    out = tmp_path / 'compile'
    assert {'int_model.pt', 'model.hbir', 'model.pt', 'model.hbm', 'pidnet-s.svg'} <= {p.name for p in out.iterdir()}
    assert sorted(p.suffix for p in (out / 'perf_out').iterdir()) == ['.html', '.json']
    assert 'model.hbm is the deployable model' in said
    calls = [(n, kw) for n, kw in plugin if n in ('export_hbir', 'check_model', 'compile_model', 'perf_model', 'visualize_model')]
    assert [n for n, _ in calls] == ['export_hbir', 'check_model', 'compile_model', 'perf_model', 'visualize_model']
    compile_kw = dict(calls)['compile_model']
    assert (compile_kw['input_source'], compile_kw['opt'], compile_kw['march']) == ('ddr', 3, 'bayes')  # a string, as the walkthrough
    assert dict(calls)['perf_model']['input_source'] == 'ddr'
    assert isinstance(torch.jit.load(out / 'int_model.pt'), torch.jit.ScriptModule)  # the traced integer model


def test_int8_stage_runs_the_converted_model_in_pytorch(calibrated, plugin, tmp_path):
    "Defect 3: the int8 stage used to export the converted model to ONNX; a `convert_fx` model is run by PyTorch."
    calib, _ = calibrated
    said = run('eval', '-c', CFG, '--stage', 'int8', '--calib', calib, '--limit', 1, '--workers', 0)
    assert "int8: the plugin's converted model, run by PyTorch" in said and 'int8: mIoU' in said
    assert [n for n, _ in plugin].count('convert_fx') == 1
    assert not list(calib.parent.glob('*.onnx'))
    frame = sorted((camvid_root() / 'test').glob('*.png'))[0]
    (tmp_path / 'in').mkdir(); cv2.imwrite(str(tmp_path / 'in' / 'street.png'), cv2.imread(str(frame)))
    said = run('infer', '-c', CFG, '--stage', 'int8', '--calib', calib, '--input', tmp_path / 'in', '--output', tmp_path / 'out')
    assert (tmp_path / 'out' / 'street_png_mask.png').exists() and '1 image:' in said


def test_dequantstub_comes_from_torch(plugin):
    "Defect 1: the plugin's quantization package exports QuantStub only; importing DeQuantStub from it fails there."
    with pytest.raises(ImportError):
        exec('from horizon_plugin_pytorch.quantization import DeQuantStub')
    from pidnet_nb.quant import get_backend
    get_backend('horizon').prepare(pidnet_s(num_classes=11), torch.zeros(1, 3, 64, 64))


def test_notebook_plugin_check_skips_when_the_plugin_is_present(plugin):
    "Defect 4: 10_quant asserted that the plugin is absent, which fails in the one place the path matters."
    from fastcore.test import test_fail
    from pidnet_nb.quant import get_backend, horizon_available
    cells = json.loads(project_file('nbs/10_quant.ipynb').read_text())['cells']
    source = next(''.join(c['source']) for c in cells if 'horizon_available()' in ''.join(c['source']) and '#| export' not in ''.join(c['source']))
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        exec(source, {'horizon_available': horizon_available, 'get_backend': get_backend, 'test_fail': test_fail})
    assert 'runs for real' in said.getvalue()


def test_wrong_keyword_fails_as_in_the_docker(plugin):
    "The stand-in is strict: a keyword the documented signature lacks is a TypeError, as with the real plugin."
    from horizon_plugin_pytorch.quantization import compile_model
    with pytest.raises(TypeError):
        compile_model(None, [torch.zeros(1)], hbm='m.hbm', optimize=3)
    with pytest.raises(AssertionError, match='input_source'):
        compile_model(None, [torch.zeros(1)], hbm='m.hbm', input_source='dram')
    assert compile_model(None, [torch.zeros(1)], hbm='m.hbm', input_source=['ddr']) == 0  # one source per input is documented too


def test_the_walkthroughs_imports_exist(plugin):
    "Every name the walkthrough imports from the plugin is in the stand-in; the two it imports but never calls here too."
    from horizon_plugin_pytorch.functional import rgb2centered_yuv
    from horizon_plugin_pytorch.quantization.qconfig import default_qat_8bit_fake_quant_qconfig
    assert default_qat_8bit_fake_quant_qconfig is horizon_standin.QAT_QCONFIG
    with pytest.raises(NotImplementedError, match='rgb2centered_yuv'): rgb2centered_yuv(torch.zeros(1, 3, 2, 2, dtype=torch.uint8))


def test_precision_debug_uses_the_profiler(plugin, tmp_path):
    "With the plugin, the accuracy chapter's precision debug is Horizon's featuremap_similarity, in the open table's layout."
    from pidnet_nb.accuracy import precision_debug
    from pidnet_nb.quant import get_backend
    model = pidnet_s(num_classes=11).eval()
    table = precision_debug(get_backend('horizon'), model, model, torch.zeros(1, 3, 64, 64), out_dir=tmp_path / 'debug')
    assert table.columns == ['layer', 'SQNR (dB)'] and [r['SQNR (dB)'] for r in table.rows] == [20.0, 25.0, 30.0]
    assert dict(plugin)['featuremap_similarity']['similarity_func'] == 'SQNR' and (tmp_path / 'debug' / 'similarity.html').exists()


def test_board_script_and_parse(tmp_path):
    log = project_file('tests/fixtures/horizon/hrt_model_exec_perf.log')  # Horizon's documented output layout
    (tmp_path / 'model.hbm').write_bytes(b'')  # stands in for the compiled model
    said = run('board', '--hbm', tmp_path / 'model.hbm', '--parse', log, '--json', tmp_path / 'board.json')
    script = (tmp_path / 'run_on_board.sh').read_text()
    assert 'hrt_model_exec perf --model_file "$MODEL" --core_id 0 --frame_count 1000 --thread_num 8 --profile_path ./' in script
    assert '\nMODEL=model.hbm\n' in script
    row = json.loads((tmp_path / 'board.json').read_text())[0]
    assert (row['threads'], row['frames'], row['mean_ms'], row['fps']) == (1, 200, 4.003106, 244.204717)
    assert 'J5 board' in said
    with pytest.raises(SystemExit, match='not the output of `hrt_model_exec perf`'):
        (tmp_path / 'bad.log').write_text('Segmentation fault\n'); run('board', '--parse', tmp_path / 'bad.log')


def test_plugin_1x_check_qconfig_returning_nothing(monkeypatch, tmp_path):
    "Plugin 1.x documents no return value for `check_qconfig`: calibrate, eval (calib, int8) and compile still run through."
    monkeypatch.chdir(tmp_path)
    horizon_standin.install(monkeypatch, qconfig_lists=False)
    said = run('calibrate', '-c', CFG, '--backend', 'horizon', '--batches', 2, '--out', tmp_path / 'calib')
    calib = tmp_path / 'calib' / 'calib-checkpoint-last.pt'
    assert calib.exists() and 'check_qconfig: 2 lines in qconfig_info.txt' in said
    for stage in ('calib', 'int8'):
        said = run('eval', '-c', CFG, '--stage', stage, '--calib', calib, '--limit', 1, '--workers', 0, '--json', tmp_path / f'{stage}.json')
        assert f'{stage}: mIoU' in said and json.loads((tmp_path / f'{stage}.json').read_text())['images'] == 1
    said = run('compile', '-c', CFG, '--calib', calib, '--out', tmp_path / 'compile')
    assert {'int_model.pt', 'model.hbm', 'pidnet-s.svg'} <= {p.name for p in (tmp_path / 'compile').iterdir()}
