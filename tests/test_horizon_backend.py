"The horizon backend against a recording stand-in of horizon_plugin_pytorch's documented API (the real plugin ships in Horizon's OE docker)."
import enum, importlib.machinery, sys, types

import pytest
import torch
from torch import nn

from pidnet_nb.model import pidnet_s
from pidnet_nb.surgery import check_deployable


@pytest.fixture
def plugin(monkeypatch):
    "Install a stand-in `horizon_plugin_pytorch` that records every call; yields the call log."
    calls = []
    def module(name, **attrs):
        m = types.ModuleType(name); m.__spec__ = importlib.machinery.ModuleSpec(name, None); m.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, m); return m
    class March(enum.Enum): BAYES = 'bayes'
    class FakeQuantState(enum.Enum): CALIBRATION = 'calibration'; VALIDATION = 'validation'
    class QuantStub(nn.Identity): pass
    class DeQuantStub(nn.Identity): pass
    rec = lambda name, ret=None: (lambda *a, **k: calls.append((name, a, k)) or (a[0] if ret == 'first' else None))
    calib_q, int32_q = object(), object()
    module('horizon_plugin_pytorch')
    module('horizon_plugin_pytorch.march', March=March, set_march=rec('set_march'))
    module('horizon_plugin_pytorch.quantization', QuantStub=QuantStub, DeQuantStub=DeQuantStub, FakeQuantState=FakeQuantState,
           prepare_qat_fx=rec('prepare_qat_fx', 'first'), set_fake_quantize=rec('set_fake_quantize'), convert_fx=rec('convert_fx', 'first'),
           check_model=rec('check_model'), compile_model=rec('compile_model'), perf_model=rec('perf_model'),
           visualize_model=rec('visualize_model'))
    module('horizon_plugin_profiler', check_qconfig=rec('check_qconfig'))
    module('horizon_plugin_pytorch.quantization.qconfig', default_calib_8bit_fake_quant_qconfig=calib_q,
           default_calib_8bit_weight_32bit_out_fake_quant_qconfig=int32_q)
    yield types.SimpleNamespace(calls=calls, March=March, State=FakeQuantState, calib_q=calib_q, int32_q=int32_q,
                                QuantStub=QuantStub, DeQuantStub=DeQuantStub)


def test_walkthrough_call_sequence(plugin):
    from pidnet_nb.quant import get_backend, horizon_available
    assert horizon_available()
    backend = get_backend('horizon')
    x = torch.randn(1, 3, 64, 64)
    prepared = backend.prepare(pidnet_s(num_classes=11), x)
    backend.calibrate(prepared, [x, x])
    backend.qconfig_report(prepared, x)
    backend.convert(prepared)
    names = [c[0] for c in plugin.calls]
    assert names == ['set_march', 'prepare_qat_fx', 'set_fake_quantize', 'check_qconfig', 'set_fake_quantize', 'convert_fx']
    assert plugin.calls[0][1] == (plugin.March.BAYES,)
    model, qconfig = plugin.calls[1][1]
    assert qconfig == {'': plugin.calib_q, 'module_name': {'final_layer.conv2': plugin.int32_q}}
    assert [c[1][1] for c in plugin.calls if c[0] == 'set_fake_quantize'] == [plugin.State.CALIBRATION, plugin.State.VALIDATION]
    assert plugin.calls[3][1] == (prepared, x)
    assert isinstance(model.quant, plugin.QuantStub) and isinstance(model.dequant, plugin.DeQuantStub)
    assert check_deployable(model, x).rows == []  # what the plugin receives is the surgered, J5-clean graph


def test_compile_call_sequence(plugin, tmp_path):
    "The walkthrough's compile step: check_model, compile_model (.hbm, ddr, opt=3), perf_model, visualize_model."
    from pidnet_nb.deploy import horizon_compile
    x = torch.randn(1, 3, 64, 64)
    result = horizon_compile(pidnet_s(num_classes=11).eval(), x, tmp_path / 'compile')
    names = [c[0] for c in plugin.calls]
    assert names == ['check_model', 'compile_model', 'perf_model', 'visualize_model']
    traced = plugin.calls[0][1][0]
    assert isinstance(traced, torch.jit.ScriptModule)
    assert all(c[1][0] is traced for c in plugin.calls)  # one traced model goes through every step
    _, compile_args, compile_kwargs = plugin.calls[1]
    assert compile_args[1] == [x]
    assert compile_kwargs['hbm'] == str(tmp_path / 'compile' / 'model.hbm')
    assert (compile_kwargs['input_source'], compile_kwargs['opt'], compile_kwargs['march']) == (['ddr'], 3, plugin.March.BAYES)
    assert plugin.calls[2][2]['out_dir'] == str(tmp_path / 'compile' / 'perf')
    assert plugin.calls[3][2]['save_path'] == str(tmp_path / 'compile' / 'pidnet.svg')
    assert result['hbm'].endswith('model.hbm')
