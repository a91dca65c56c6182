"Trainer guarantees that need processes or several runs: exact resume, and DDP on two CPU processes (gloo)."
import os, shutil, subprocess, sys
from pathlib import Path

import pytest
import torch

import pidnet_nb.train as trainer
from pidnet_nb.config import get_config
from pidnet_nb.train import train

TINY = ['DATASET.VAL_SET', 'val', 'TRAIN.IMAGE_SIZE', [96, 64],
        'TRAIN.BATCH_SIZE_PER_GPU', 2, 'TRAIN.END_EPOCH', 2, 'WORKERS', 0]


def _weights(path):
    return torch.load(path, weights_only=True)['model']


def test_resume_is_exact(tmp_path, monkeypatch):
    monkeypatch.setattr(trainer, 'build_dataset', _small_val(trainer.build_dataset))
    straight = train(get_config('camvid/pidnet_small_camvid', TINY), tmp_path / 'a', limit=4, progress=False)
    first = train(get_config('camvid/pidnet_small_camvid', TINY), tmp_path / 'b', limit=4, max_steps=2, progress=False)
    assert first['epoch'] == 1 and (tmp_path / 'b' / 'checkpoint.pt').exists()
    resumed = train(get_config('camvid/pidnet_small_camvid', TINY + ['TRAIN.RESUME', True]), tmp_path / 'b', limit=4, progress=False)
    assert resumed['step'] == straight['step'] == 4
    assert resumed['history'] == straight['history']
    a, b = _weights(tmp_path / 'a' / 'last.pt'), _weights(tmp_path / 'b' / 'last.pt')
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / 'a' / 'best.pt').exists() and list((tmp_path / 'a' / 'tensorboard').iterdir())


def _small_val(build):
    "Score only two validation images, to keep the test fast."
    def wrapped(cfg, split=None, train=False):
        ds = build(cfg, split, train)
        if not train: ds.pairs = ds.pairs[:2]
        return ds
    return wrapped


def test_ddp_two_cpu_processes(tmp_path):
    torchrun = shutil.which('torchrun', path=os.path.dirname(sys.executable))
    cli = shutil.which('pidnet-nb', path=os.path.dirname(sys.executable))
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([torchrun, '--nproc_per_node', '2', '--master_port', '29533', cli, 'train', '-c', 'camvid/pidnet_small_camvid',
                        '--out', str(tmp_path), '--device', 'cpu', '--limit', '8', '--max-steps', '2',
                        'DATASET.VAL_SET', '', *map(str, TINY[2:])],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count('trained to epoch') == 1  # rank 0 alone reports and writes
    ckpt = torch.load(tmp_path / 'checkpoint.pt', weights_only=True)
    assert ckpt['step'] == 2 and (tmp_path / 'last.pt').exists()


def test_augmentation_changes_across_epochs_with_workers():
    "Each epoch draws new crops, also in DataLoader worker processes (which copy the dataset)."
    from torch.utils.data import DataLoader
    from pidnet_nb.config import build_dataset
    from pidnet_nb.train import EpochSeeded
    base = build_dataset(get_config('camvid/pidnet_small_camvid', TINY), train=True)
    base.pairs = base.pairs[:2]
    ds = EpochSeeded(base, base.transform, seed=0)
    labels = []
    for epoch in (0, 1, 0):
        ds.set_epoch(epoch)
        labels.append(next(iter(DataLoader(ds, batch_size=2, num_workers=1)))[1])
    assert not torch.equal(labels[0], labels[1]) and torch.equal(labels[0], labels[2])
