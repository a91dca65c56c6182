"The shipped CamVid weights: strict loading, and the model card's test mIoU reproduced from the recorded evaluation."
import json
from pathlib import Path

import pytest
import torch

from pidnet_nb.config import build_dataset, get_config, weights_file
from pidnet_nb.metrics import evaluate
from pidnet_nb.model import load_pretrained, pidnet_s

WEIGHTS = weights_file(get_config('camvid/pidnet_small_camvid'))  # the shipped weights, found as every command finds them
RECORD = WEIGHTS.parent / 'results' / 'float.json'  # `pidnet-nb eval --json` output quoted by the model card


def test_loads_strictly_with_and_without_heads():
    full = load_pretrained(pidnet_s(num_classes=11, augment=True), WEIGHTS)
    assert full.ok and not full.dropped and len(full.loaded) == 479
    deploy = load_pretrained(pidnet_s(num_classes=11), WEIGHTS)
    assert deploy.ok and {k.split('.')[0] for k in deploy.dropped} == {'seghead_p', 'seghead_d'}
    assert torch.load(WEIGHTS, weights_only=True)['model']['final_layer.conv2.weight'].dtype == torch.float16


def test_model_card_miou_reproduces():
    record = json.loads(RECORD.read_text())
    cfg = get_config('camvid/pidnet_small_camvid')  # CamVid from the data folder, downloaded on first use
    model = pidnet_s(num_classes=11)
    load_pretrained(model, WEIGHTS)
    scores = evaluate(model, build_dataset(cfg), progress=False, num_workers=0)
    assert scores.images == record['images'] == 233
    assert abs(100 * scores.miou - 100 * record['miou']) < 0.1


QAT = WEIGHTS.parent / 'pidnet_s_camvid_qat.pt'  # the shipped QAT result (`pidnet-nb qat`), see the model card


def test_qat_file_contract(tmp_path):
    from pidnet_nb.config import load_model
    from pidnet_nb.deploy import float_inputs
    from pidnet_nb.config import example_input
    from pidnet_nb.model import weights_digest
    from pidnet_nb.stages import open_calibration
    from pidnet_nb.runtime import export_onnx
    cfg = get_config('camvid/pidnet_small_camvid')
    model = load_model(cfg, verbose=False)
    c = torch.load(QAT, weights_only=True)
    assert QAT.stat().st_size <= 40e6 and c['tag']['kind'] == 'qat' and c['tag']['float'] == []
    assert c['tag']['weights_sha256'] == weights_digest(model)  # started from the shipped float weights
    cal = open_calibration(cfg, model, QAT)
    onnx = export_onnx(cal.backend.convert(cal.prepared), example_input(cfg), tmp_path / 'model_int8.onnx')
    assert float_inputs(onnx) == []  # all int8: every operation takes dequantized int8 inputs
    from pidnet_nb.runtime import INT16_MAX, conv_inputs, pair_sums
    assert c['tag']['weight_bits'] == 7  # the x86 file: no pair of int8 products can pass 16 bits on any x86 CPU
    weights = [w for _, _, w, _ in conv_inputs(onnx, example_input(cfg).numpy())]
    assert len(weights) == 75 and max(pair_sums(w).max() for w in weights) <= INT16_MAX


def test_qat_runtimes_agree_with_fake_quant_on_this_cpu():
    """The QAT file's int8 model scores what its fake-quant model scores, on the machine the test runs on, in ONNX Runtime
    and in OpenVINO (within 0.1 mIoU on all 233 test images). Nothing here is a number measured on another CPU: the
    7-bit weights make the int8 kernels exact with VNNI, AMX and AVX2 alike (the runtime chapter)."""
    from pidnet_nb.accuracy import compare_stages
    from pidnet_nb.config import load_model
    from pidnet_nb.core import cpu_int8
    from pidnet_nb.stages import stage_predictor
    cfg = get_config('camvid/pidnet_small_camvid')
    model = load_model(cfg, verbose=False)
    stages = {'calib': stage_predictor(cfg, model, 'calib', QAT)}
    stages['onnxruntime'] = stage_predictor(cfg, model, 'int8', QAT)
    stages['openvino'] = stage_predictor(cfg, model, 'int8', QAT, runtime='openvino')
    assert all('note:' not in what for _, what in stages.values()), 'the shipped file must not clip on this CPU'
    c = compare_stages({k: p for k, (p, _) in stages.items()}, build_dataset(cfg))
    miou = {k: round(100 * s.miou, 2) for k, s in c.scores.items()}
    print(f'CPU int8: {cpu_int8()}; mIoU {miou}')
    assert c.scores['calib'].images == 233
    for runtime in ('onnxruntime', 'openvino'): assert abs(miou[runtime] - miou['calib']) < 0.1, (runtime, miou)


def test_every_record_belongs_to_the_shipped_weights():
    "Each evaluation record and the benchmark carry the digest of the float weights they were measured with."
    from pidnet_nb.config import load_model
    from pidnet_nb.core import project_file
    from pidnet_nb.model import weights_digest
    digest = weights_digest(load_model(get_config('camvid/pidnet_small_camvid'), verbose=False))
    records = sorted((WEIGHTS.parent / 'results').glob('*.json')) + [project_file('bench/results-cpu.json'), WEIGHTS.parent / 'demo-run.json']
    stale = [f.name for f in records if json.loads(f.read_text()).get('weights_sha256') != digest]
    assert len(records) >= 7 and not stale, f'measured with other weights: {stale}'
