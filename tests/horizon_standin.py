"""A stand-in for Horizon's `horizon_plugin_pytorch` and `horizon_plugin_profiler`, built from their documented public
API (plugin 1.x, hbdk3, J5 = March.BAYES; the sources are in the quantization chapter's table): the same module
paths, names and signatures, so a wrong import or keyword fails here as it would in the OE docker. It does no
quantization: each call is recorded, checks what the documentation asserts (types, eval/train mode, file suffixes)
and writes the files the real call writes, with placeholder contents.

Two names are here only so that the walkthrough's import lines run (this project calls neither):
`default_qat_8bit_fake_quant_qconfig`, an opaque value like the other qconfigs, and `horizon_plugin_pytorch.functional`
with its colour conversions for camera input, `rgb2centered_yuv` and `centered_yuv2rgb`, which raise if called."""
import enum, importlib.machinery, json, os, sys, types
from pathlib import Path

import torch
from torch import nn

CALIB_QCONFIG, INT32_OUT_QCONFIG, QAT_QCONFIG = object(), object(), object()  # the documented qconfig objects, as opaque values
INPUT_SOURCES = ('ddr', 'resizer', 'pyramid')


def _tuple(example_inputs):
    "The compile helpers document `example_inputs` as a tuple of inputs (every example passes `[x]`)."
    assert isinstance(example_inputs, (tuple, list)), f'example_inputs must be a tuple of inputs, got {type(example_inputs).__name__}'


def _sources(input_source):
    "hbdk3's `torch_script` tools type `input_source` as Union[Sequence[str], str]: one source for every input, or one per input."
    given = [input_source] if isinstance(input_source, str) else list(input_source)
    assert given and all(s in INPUT_SOURCES for s in given), f'input_source must name {INPUT_SOURCES}, got {input_source!r}'


def _not_modelled(name):
    def f(*args, **kwargs): raise NotImplementedError(f'{name} is not modelled by the stand-in (it is here for the import line)')
    f.__name__ = name
    return f


def _write(path, text='stand-in'):
    Path(path).parent.mkdir(parents=True, exist_ok=True); Path(path).write_text(text)


def build(calls:list, qconfig_lists:bool=True) -> dict:
    """{module name: module} of the stand-in; every call appends (name, args dict) to `calls`. `qconfig_lists=False`: `check_qconfig`
    as the plugin 1.x documents have it (it writes qconfig_info.txt and returns nothing); True: as later profiler releases (three lists)."""
    rec = lambda name, **kw: calls.append((name, kw))

    class March:  # a class of strings, not an Enum (horizon_plugin_pytorch/march.py)
        BAYES, BERNOULLI2, BERNOULLI = 'bayes', 'bernoulli2', 'bernoulli'
    state = {}
    def set_march(march): rec('set_march', march=march); state['march'] = march
    def get_march(): return state.get('march')

    class FakeQuantState(enum.Enum):
        QAT, CALIBRATION, VALIDATION, _FLOAT = 'qat', 'calibration', 'validation', 'float'

    class QuantStub(nn.Module):
        def __init__(self, scale=None, zero_point=None, qconfig=None): super().__init__(); self.scale = scale
        def forward(self, x): return x

    def prepare_qat_fx(model, qconfig_dict=None, prepare_custom_config_dict=None, optimize_graph=False, hybrid=False,
                       hybrid_dict=None):
        assert set(qconfig_dict or {}) <= {'', 'module_type', 'module_name'}, f'qconfig_dict keys {set(qconfig_dict)}'
        rec('prepare_qat_fx', model=model, qconfig_dict=qconfig_dict); return model

    def set_fake_quantize(model, mode):
        assert isinstance(mode, FakeQuantState), f'mode must be a FakeQuantState, got {mode!r}'
        if mode is FakeQuantState.QAT: assert model.training, 'Call model.train() before set fake quant to QAT mode.'
        else: assert not model.training, f'Call model.eval() before set fake quant to {mode.name} mode.'
        rec('set_fake_quantize', model=model, mode=mode)

    def convert_fx(graph_module, inplace=False, convert_custom_config_dict=None, _remove_qconfig=True, fast_mode=False):
        rec('convert_fx', graph_module=graph_module); return graph_module

    def export_hbir(module, example_inputs, hbir, march=None):
        _tuple(example_inputs)
        if not str(hbir).endswith('.hbir'): return 1
        _write(hbir); _write(Path(hbir).with_suffix('.pt')); rec('export_hbir', hbir=hbir, march=march)
        return ['input'], ['output']

    def check_model(module, example_inputs, march=None, input_source='ddr', advice=None, check_quanti_param=True):
        _tuple(example_inputs); _sources(input_source); rec('check_model', module=module, march=march, input_source=input_source, advice=advice)
        return 0

    def compile_model(module, example_inputs, hbm, march=None, name=None, input_source='ddr', input_layout=None,
                      output_layout='NCHW', opt='O2', balance_factor=2, progressbar=True, jobs=16, debug=True, extra_args=None):
        _tuple(example_inputs); _sources(input_source)
        if not str(hbm).endswith('.hbm'): return 1
        for suffix in ('.hbm', '.hbir', '.pt'): _write(Path(hbm).with_suffix(suffix))  # the .hbir and .pt stay beside it
        rec('compile_model', module=module, hbm=hbm, march=march, input_source=input_source, opt=opt)
        return 0

    def perf_model(module, example_inputs, march=None, out_dir='.', name=None, hbm=None, input_source='ddr',
                   input_layout=None, output_layout='NCHW', opt='O3', balance_factor=2, progressbar=True, jobs=16,
                   layer_details=False, extra_args=None):
        _tuple(example_inputs); _sources(input_source)
        if not os.path.isdir(out_dir): os.mkdir(out_dir)  # mkdir, not makedirs: the parent must exist
        name = name or getattr(module, 'original_name', type(module).__name__)
        result = {'summary': {'BPU march': 'BAYES', 'FPS': 0.0, 'latency (ms)': 0.0, 'model name': name}}
        _write(Path(out_dir) / f'{name}.json', json.dumps(result)); _write(Path(out_dir) / f'{name}.html')
        rec('perf_model', module=module, out_dir=out_dir, march=march, input_source=input_source, opt=opt, layer_details=layer_details)
        return result

    def visualize_model(module, example_inputs, march=None, save_path=None, show=True):
        _tuple(example_inputs); _write(save_path); rec('visualize_model', module=module, save_path=save_path, show=show)

    def check_qconfig(model, example_inputs, prefixes=(), types=(), custom_check_func=None, out_dir=None):
        _write(Path(out_dir or '.') / 'qconfig_info.txt', 'Each layer out qconfig:\nconv1.0 | qint8\n'); rec('check_qconfig', model=model)
        return ([], [], []) if qconfig_lists else None

    def featuremap_similarity(model1, model2, inputs, similarity_func='Cosine', threshold=None, devices=None, out_dir=None):
        for f in ('similarity.txt', 'ordered_op_error_similarity.txt', 'similarity.html'): _write(Path(out_dir or '.') / f)
        rec('featuremap_similarity', similarity_func=similarity_func, out_dir=out_dir)
        names = [n for n, m in model1.named_modules() if isinstance(m, nn.Conv2d)][:3]  # rows as documented:
        return [[i, n, 'torch.nn.Conv2d', 30.0 - 5 * i, 0.01, 0.0, 0.0, 0.0] for i, n in enumerate(names)]  # index, name, type, similarity, ...

    def module(name, **attrs):
        m = types.ModuleType(name); m.__spec__ = importlib.machinery.ModuleSpec(name, None); m.__dict__.update(attrs)
        return m
    quantization = module('horizon_plugin_pytorch.quantization', QuantStub=QuantStub, March=March, FakeQuantState=FakeQuantState,
                          prepare_qat_fx=prepare_qat_fx, convert_fx=convert_fx, set_fake_quantize=set_fake_quantize,
                          export_hbir=export_hbir, check_model=check_model, compile_model=compile_model,
                          perf_model=perf_model, visualize_model=visualize_model)  # no DeQuantStub: it is torch's
    return {'horizon_plugin_pytorch': module('horizon_plugin_pytorch', __version__='1.6.2'),
            'horizon_plugin_pytorch.functional': module('horizon_plugin_pytorch.functional',
                                                        **{n: _not_modelled(n) for n in ('rgb2centered_yuv', 'centered_yuv2rgb')}),
            'horizon_plugin_pytorch.march': module('horizon_plugin_pytorch.march', March=March, set_march=set_march, get_march=get_march),
            'horizon_plugin_pytorch.quantization': quantization,
            'horizon_plugin_pytorch.quantization.qconfig': module(
                'horizon_plugin_pytorch.quantization.qconfig', default_calib_8bit_fake_quant_qconfig=CALIB_QCONFIG,
                default_calib_8bit_weight_32bit_out_fake_quant_qconfig=INT32_OUT_QCONFIG,
                default_qat_8bit_weight_32bit_out_fake_quant_qconfig=INT32_OUT_QCONFIG,
                default_qat_8bit_fake_quant_qconfig=QAT_QCONFIG),
            'horizon_plugin_profiler': module('horizon_plugin_profiler', check_qconfig=check_qconfig,
                                              featuremap_similarity=featuremap_similarity)}


def install(monkeypatch, qconfig_lists:bool=True) -> list:
    "Put the stand-in into `sys.modules` for one test; returns the list its calls are recorded in."
    calls = []
    for name, m in build(calls, qconfig_lists).items(): monkeypatch.setitem(sys.modules, name, m)
    return calls
