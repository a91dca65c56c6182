"""No config key is silently ignored: every key of the defaults (and so of every bundled YAML file) is read by some
stage, or is one of the official keys with a single supported value (`SUPPORTED`) or with none (`IGNORED`).
Reads are recorded for real, by watching attribute access on the config while the commands run."""
import contextlib, io

import pytest
import torch
from yacs.config import CfgNode

from pidnet_nb.cli import main
from pidnet_nb.config import IGNORED, SUPPORTED, bundled_configs, default_config, get_config
from pidnet_nb.model import pidnet_s


def keys(node, prefix=''):
    "Every leaf key of a config, dotted."
    for k, v in node.items():
        yield from keys(v, f'{prefix}{k}.') if isinstance(v, CfgNode) else [f'{prefix}{k}']


@pytest.fixture
def reads(monkeypatch):
    "The dotted keys read from any config while the test runs."
    seen, paths = set(), {}
    original = CfgNode.__getattr__
    def getattr_(self, name):
        value = original(self, name)
        prefix = paths.get(id(self), '')
        if isinstance(value, CfgNode): paths[id(value)] = f'{prefix}{name}.'
        else: seen.add(f'{prefix}{name}')
        return value
    monkeypatch.setattr(CfgNode, '__getattr__', getattr_)
    return seen


def test_every_key_is_read_or_declared(reads, tmp_path):
    untrained = tmp_path / 'untrained.pt'
    torch.save({'model': pidnet_s(num_classes=11, augment=True).state_dict()}, untrained)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        main(['eval', '-c', 'camvid/pidnet_small_camvid', '--limit', '1', '--workers', '0', 'TEST.MODEL_FILE', str(untrained)])
        main(['train', '-c', 'camvid/pidnet_small_camvid', '--device', 'cpu', '--max-steps', '1', 'OUTPUT_DIR', str(tmp_path / 'run'),
              'DATASET.VAL_SET', 'val', 'TRAIN.IMAGE_SIZE', '[96, 64]', 'TEST.IMAGE_SIZE', '[96, 64]', 'TRAIN.BATCH_SIZE_PER_GPU', '2', 'WORKERS', '0',
              'MODEL.PRETRAINED', str(untrained)])
    unread = set(keys(default_config())) - reads - set(IGNORED)
    assert not unread, f'keys no stage reads: {sorted(unread)}'
    assert set(SUPPORTED) <= reads  # the single-value keys are checked, i.e. read, on every load


@pytest.mark.parametrize('name', bundled_configs())
def test_bundled_files_load_without_notes(name, capsys):
    get_config(name)
    assert 'ignored' not in capsys.readouterr().err


def test_official_file_loads_with_one_note_per_ignored_key(tmp_path, capsys):
    "An official-style YAML (the official key set, values of our own) loads; ignored keys are named once each."
    (tmp_path / 'official.yaml').write_text(
        'CUDNN:\n  BENCHMARK: false\nGPUS: (0,1)\nPRINT_FREQ: 5\nDATASET:\n  ROOT: data/\n  TEST_SET: list/camvid/val.lst\n'
        '  TRAIN_SET: list/camvid/trainval.lst\nMODEL:\n  NAME: pidnet_small\n  NUM_OUTPUTS: 2\n'
        'TRAIN:\n  BASE_SIZE: 720\n  OPTIMIZER: sgd\n  NESTEROV: true\n  IGNORE_LABEL: 255\nTEST:\n  OUTPUT_INDEX: 1\n  MULTI_SCALE: false\n')
    for _ in range(2): cfg = get_config(tmp_path / 'official.yaml')
    notes = [l for l in capsys.readouterr().err.splitlines() if 'accepted and ignored' in l]
    assert sorted(n.split()[1] for n in notes) == ['CUDNN.BENCHMARK', 'GPUS', 'PRINT_FREQ', 'TRAIN.BASE_SIZE']
    assert (cfg.MODEL.NAME, cfg.TRAIN.NESTEROV) == ('pidnet_small', True)
