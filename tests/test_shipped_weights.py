"The shipped CamVid weights: strict loading, and the model card's test mIoU reproduced from the recorded evaluation."
import json
from pathlib import Path

import pytest
import torch

from pidnet_nb.config import build_dataset, get_config
from pidnet_nb.core import find_shared
from pidnet_nb.metrics import evaluate
from pidnet_nb.model import load_pretrained, pidnet_s

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / 'pretrained_models' / 'camvid' / 'pidnet_s_camvid.pt'
RECORD = WEIGHTS.parent / 'results' / 'float.json'  # `pidnet-nb eval --json` output quoted by the model card
CAMVID = find_shared('camvid')


def test_loads_strictly_with_and_without_heads():
    full = load_pretrained(pidnet_s(num_classes=11, augment=True), WEIGHTS)
    assert full.ok and not full.dropped and len(full.loaded) == 479
    deploy = load_pretrained(pidnet_s(num_classes=11), WEIGHTS)
    assert deploy.ok and {k.split('.')[0] for k in deploy.dropped} == {'seghead_p', 'seghead_d'}
    assert torch.load(WEIGHTS, weights_only=True)['model']['final_layer.conv2.weight'].dtype == torch.float16


@pytest.mark.skipif(CAMVID is None, reason='needs shared/camvid')
def test_model_card_miou_reproduces():
    record = json.loads(RECORD.read_text())
    cfg = get_config('camvid/pidnet_small_camvid', ['DATASET.ROOT', str(CAMVID)])
    model = pidnet_s(num_classes=11)
    load_pretrained(model, WEIGHTS)
    scores = evaluate(model, build_dataset(cfg), progress=False, num_workers=0)
    assert scores.images == record['images'] == 233
    assert abs(100 * scores.miou - 100 * record['miou']) < 0.1
