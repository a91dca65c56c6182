"""Benchmark: PyTorch eager fp32, ONNX Runtime fp32 and ONNX Runtime int8, PIDNet-S at 360x480, batch 1, side by side.

Rounds interleave the three runtimes so that load from other work on the machine hits all of them alike; the
ratios are of the medians over rounds. Needs a compile folder (`pidnet-nb compile`, or `make demo`'s report/compile).

    python bench/bench_deploy.py --compile report/compile --threads 1 2 --rounds 5 --frames 10 --json bench/results-cpu.json
"""
import argparse, json, platform, statistics
from pathlib import Path

import torch

from pidnet_nb.config import get_config, load_model
from pidnet_nb.core import write_json
from pidnet_nb.deploy import ort_session, time_calls
from pidnet_nb.quant import example_input


def machine() -> str:
    "CPU model and core count, for the record."
    try: name = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): name = platform.processor() or platform.machine()
    import os
    return f'{name}, {os.cpu_count()} cores, torch {torch.__version__}'


def measure(model, x, comp:Path, threads:int, rounds:int, frames:int) -> dict:
    "Median latency over `rounds` interleaved rounds of eager, ONNX Runtime fp32 and int8 with `threads` threads."
    torch.set_num_threads(threads)
    sessions = {name: ort_session(comp / f, threads) for name, f in
                (('onnxruntime fp32', 'model_fp32.onnx'), ('onnxruntime int8', 'model_int8_optimized.onnx'))}
    feed = {'image': x.numpy()}
    runs = {'pytorch eager fp32': lambda: model(x), **{k: (lambda s=s: s.run(None, feed)) for k, s in sessions.items()}}
    means = {k: [] for k in runs}
    with torch.inference_mode():
        for _ in range(rounds):
            for k, fn in runs.items(): means[k].append(time_calls(fn, frames, warmup=2)['mean_ms'])
    ms = {k: statistics.median(v) for k, v in means.items()}
    return {'median_ms': ms, 'fps': {k: 1e3 / v for k, v in ms.items()},
            'int8_vs_ort_fp32': ms['onnxruntime fp32'] / ms['onnxruntime int8'],
            'int8_vs_eager_fp32': ms['pytorch eager fp32'] / ms['onnxruntime int8']}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--compile', default='compile', help='folder with model_fp32.onnx and model_int8_optimized.onnx')
    p.add_argument('--threads', type=int, nargs='+', default=[1, torch.get_num_threads()], help='thread counts to measure')
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--frames', type=int, default=10, help='timed runs per runtime and round')
    p.add_argument('--json', default=None)
    p.add_argument('opts', nargs=argparse.REMAINDER, help='KEY VALUE config overrides (e.g. TEST.MODEL_FILE)')
    args = p.parse_args(argv)
    cfg = get_config('camvid/pidnet_small_camvid', args.opts)  # the shipped weights unless TEST.MODEL_FILE says otherwise
    model, x = load_model(cfg), example_input(cfg).normal_(generator=torch.Generator().manual_seed(0))
    result = {'machine': machine(), 'rounds': args.rounds, 'frames': args.frames, 'input': list(x.shape), 'by_threads': {}}
    for threads in args.threads:
        result['by_threads'][threads] = r = measure(model, x, Path(args.compile), threads, args.rounds, args.frames)
        print(f"{threads} thread(s): int8 {r['int8_vs_ort_fp32']:.2f}x ONNX Runtime fp32, {r['int8_vs_eager_fp32']:.2f}x PyTorch eager")
    print(json.dumps(result, indent=1))
    if args.json: write_json(result, args.json)
    return result


if __name__ == '__main__':
    main()
