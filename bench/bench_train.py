"""Benchmark: one PIDNet-S training step on this CPU (batch 8, the official losses, SGD), in fp32 and in bf16 autocast,
with and without channels-last tensors, and the data pipeline alone (`DataLoader` over the training split with the
trainer's augmentation, at the given number of workers). Rounds interleave the settings so that load from other
work hits all of them alike; each setting gets the median and the spread (min..max) of its round means. With
`--curve-steps N` it also trains N steps from the shipped weights on real batches in fp32 and in bf16 (same seed,
same batches, the trainer itself) and records both loss curves: bf16 is adopted only if it follows fp32.
The training chapter shows the table from `bench/results-train.json`:

    python bench/bench_train.py --size 288 384 --rounds 3 --steps 4 --curve-steps 30 --json bench/results-train.json
"""
import argparse, statistics, tempfile, time

import torch
from torch.utils.data import DataLoader

from pidnet_nb.config import build_dataset, build_model, get_config
from pidnet_nb.core import machine, write_json
from pidnet_nb.train import EpochSeeded, PIDNetLoss, train

SETTINGS = {'fp32': (None, False), 'fp32, channels-last': (None, True), 'bf16': (torch.bfloat16, False),
            'bf16, channels-last': (torch.bfloat16, True)}



def step_fn(cfg, dtype, channels_last: bool, batch: int, size):
    "A closure that runs one training step on a fixed random batch."
    torch.manual_seed(0)
    model = build_model(cfg, augment=True).train()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    loss_fn = PIDNetLoss.from_config(cfg)
    x = torch.randn(batch, 3, *size).contiguous(memory_format=fmt)
    y, e = torch.randint(0, cfg.DATASET.NUM_CLASSES, (batch, *size)), (torch.rand(batch, *size) > 0.9).float()
    def step():
        with torch.autocast('cpu', dtype=dtype or torch.float32, enabled=dtype is not None):
            loss, _ = loss_fn(model(x), y, e)
        opt.zero_grad(); loss.backward(); opt.step()
    return step


def loading(cfg, workers: int, batch: int, images: int) -> float:
    "Images/s of the training data pipeline alone over the first `images` images."
    base = build_dataset(cfg, train=True); base.pairs = base.pairs[:images]
    dl = DataLoader(EpochSeeded(base, base.transform), batch_size=batch, num_workers=workers, drop_last=True)
    t = time.perf_counter(); n = sum(len(b[0]) for b in dl)
    return n / (time.perf_counter() - t)


def loss_curve(size, precision: str, steps: int) -> list:
    "The trainer's losses over `steps` steps from the shipped weights (train+val, learning rate 0.005, seed 0)."
    cfg = get_config('camvid/pidnet_small_camvid', ['DATASET.VAL_SET', '', 'DATASET.TRAIN_SET', 'train+val', 'TRAIN.LR', 0.005,
        'TRAIN.IMAGE_SIZE', size[::-1], 'WORKERS', 1, 'TRAIN.PRECISION', precision,
        'MODEL.PRETRAINED', 'pretrained_models/camvid/pidnet_s_camvid.pt'])
    with tempfile.TemporaryDirectory() as d: return train(cfg, d, max_steps=steps, progress=False)['history']


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--size', type=int, nargs=2, default=[288, 384], metavar=('H', 'W'))
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--steps', type=int, default=4, help='timed steps a round (after one untimed)')
    p.add_argument('--workers', type=int, default=1)
    p.add_argument('--curve-steps', type=int, default=0, help='also compare fp32 and bf16 loss curves over N real steps')
    p.add_argument('--json', default=None)
    a = p.parse_args()
    cfg = get_config('camvid/pidnet_small_camvid', ['DATASET.TRAIN_SET', 'train+val', 'TRAIN.IMAGE_SIZE', a.size[::-1]])
    steps = {k: step_fn(cfg, *v, a.batch, a.size) for k, v in SETTINGS.items()}
    for f in steps.values(): f()  # warm up
    per = {k: [] for k in steps}
    for r in range(a.rounds):
        for k, f in steps.items():
            t = time.perf_counter()
            for _ in range(a.steps): f()
            per[k].append(a.batch * a.steps / (time.perf_counter() - t))
        print(f'round {r + 1}: ' + ', '.join(f'{k} {v[-1]:.1f}' for k, v in per.items()), flush=True)
    load = [loading(cfg, a.workers, a.batch, 96) for _ in range(a.rounds)]
    rows = [{'setting': k, 'images_per_s': statistics.median(v), 'min': min(v), 'max': max(v)} for k, v in per.items()]
    rows.append({'setting': f'data loading, {a.workers} worker(s)', 'images_per_s': statistics.median(load), 'min': min(load), 'max': max(load)})
    for r in rows: print(f"{r['setting']:>28}: {r['images_per_s']:6.1f} images/s ({r['min']:.1f}..{r['max']:.1f})")
    result = {'machine': machine(), 'threads': torch.get_num_threads(), 'size': a.size, 'batch': a.batch,
              'rounds': a.rounds, 'steps': a.steps, 'rows': rows,
              'command': f'python bench/bench_train.py --size {a.size[0]} {a.size[1]} --rounds {a.rounds} --steps {a.steps} '
                          f'--curve-steps {a.curve_steps} --json {a.json}'}
    if a.curve_steps:
        result['curves'] = {k: loss_curve(a.size, k, a.curve_steps) for k in ('fp32', 'bf16')}
        f, b = result['curves']['fp32'], result['curves']['bf16']
        print(f'loss over {a.curve_steps} steps: fp32 mean {statistics.mean(f):.4f}, bf16 mean {statistics.mean(b):.4f}, '
              f'largest step difference {max(abs(x - y) for x, y in zip(f, b)):.4f}')
    if a.json: write_json(result, a.json)


if __name__ == '__main__':
    main()
