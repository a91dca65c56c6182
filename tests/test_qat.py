"""Quantization-aware training through the real command line: a calibration, a short QAT run on a few real training
images, and the QAT checkpoint read back by `eval` like a calibration; float islands recorded and checked."""
import subprocess, sys

import pytest
import torch

from test_bad_input import CFG, cli, refused


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    "A 2-image calibration and a one-epoch QAT run on 4 training images (batch 2)."
    tmp = tmp_path_factory.mktemp('qat')
    rc, out, err = cli('calibrate', '-c', CFG, '--batches', 2, '--out', tmp / 'calib', cwd=tmp)
    assert rc == 0 and 'all int8' in out, err[-2000:]
    calib = tmp / 'calib' / 'calib-checkpoint-last.pt'
    rc, out, err = cli('qat', '-c', CFG, '--calib', calib, '--epochs', 2, '--batch-size', 2, '--limit', 4, '--out', tmp / 'qat', cwd=tmp)
    assert rc == 0 and 'QAT done' in out, err[-2000:]
    return tmp, calib, tmp / 'qat' / 'qat-checkpoint-last.pt'


def test_qat_checkpoint(runs):
    tmp, calib, qat = runs
    c = torch.load(qat, weights_only=True)
    parent = torch.load(calib, weights_only=True)['tag']
    assert c['tag']['kind'] == 'qat' and c['tag']['float'] == [] and c['tag']['weights_sha256'] == parent['weights_sha256']
    assert len(c['history']) == 4 and all(v == v for v in c['history'])  # 2 epochs of 2 steps, finite
    params = [v for k, v in c['state'].items() if k.endswith('.weight')]
    assert params and all(v.dtype == torch.float16 for v in params)
    assert qat.stat().st_size < 40e6
    rc, out, err = cli('eval', '-c', CFG, '--stage', 'int8', '--calib', qat, '--limit', 2, '--workers', 0, cwd=tmp)
    assert rc == 0 and 'int8: mIoU' in out and 'qat, open backend' in out, err[-2000:]


def test_qat_resumes_and_refuses(runs):
    tmp, calib, qat = runs
    rc, out, err = cli('qat', '-c', CFG, '--calib', calib, '--epochs', 2, '--batch-size', 2, '--limit', 4, '--out', tmp / 'qat', cwd=tmp)
    assert rc == 0 and 'resumed from' in out and 'at epoch 2' in out, err[-2000:]
    refused(['qat', '-c', CFG, '--calib', qat, '--out', tmp / 'q2'], 'QAT starts from an open-backend calibration', cwd=tmp)
    refused(['qat', '-c', CFG, '--calib', calib, '--float', 'pag3', '--out', tmp / 'q3'], 'calibrated with float islands', cwd=tmp)
    refused(['calibrate', '-c', CFG, '--float', 'pag9', '--out', tmp / 'c2'], '--float pag9', 'no such module', cwd=tmp)


def test_float_islands_are_recorded_and_used(tmp_path):
    rc, out, err = cli('calibrate', '-c', CFG, '--batches', 1, '--float', 'pag3', 'pag4', '--out', tmp_path / 'c', cwd=tmp_path)
    assert rc == 0 and 'float islands: pag3 pag4' in out, err[-2000:]
    assert torch.load(tmp_path / 'c' / 'calib-checkpoint-last.pt', weights_only=True)['tag']['float'] == ['pag3', 'pag4']
    rc, out, err = cli('eval', '-c', CFG, '--stage', 'calib', '--calib', tmp_path / 'c' / 'calib-checkpoint-last.pt',
                       '--limit', 1, '--workers', 0, cwd=tmp_path)
    assert rc == 0 and 'float islands: pag3, pag4' in out, err[-2000:]
