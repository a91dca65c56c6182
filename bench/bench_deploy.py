"""Benchmark: PIDNet-S at 360x480, batch 1, every route side by side: PyTorch eager fp32, ONNX Runtime fp32, our int8
models (every `*int8*.onnx` of a compile folder run by ONNX Runtime, and its `model_int8.xml` run by OpenVINO), and
the peers a user would pick instead, OpenVINO on the fp32 model (in OpenVINO's default inference precision, bf16 on
CPUs that have it), OpenVINO + NNCF int8 (NNCF's default post-training quantization of the same fp32 ONNX file,
on the same calibration images as ours) and PyTorch's own x86 int8 path (torchao's `X86InductorQuantizer`, its
default config with `reduce_range` on CPUs without VNNI as its documents say, the same calibration images, then
`torch.compile` with freezing). The OpenVINO peer rows need the `bench` extra (`pip install -e '.[bench]'`).
A throughput row runs both OpenVINO int8 models with OpenVINO's `THROUGHPUT` hint and as many requests in flight as
it asks for (as `hrt_model_exec perf --thread_num 8` does on J5), in frames per second.

Rounds interleave the routes so that load from other work on the machine hits all of them alike, with a pause
before each route (ONNX Runtime's worker threads spin for some milliseconds after a run, and without the pause the
route timed next ran 6-10% slower at 2 threads); latencies are medians over rounds, and each route also gets its
spread (min..max of the round means). `--accuracy` also scores every route on the CamVid test set. Each run also
measures the int8 peak of ONNX Runtime and of OpenVINO (one large 3x3 int8 convolution, `int8_peak`): PIDNet-S's
multiply-accumulates at that peak are the floor of a route in that runtime, and every route's floor is given as a
share of its latency (100%: the whole network at the speed of its best convolution).
`make bench` compiles the shipped QAT file and runs:

    python bench/bench_deploy.py --compile compile --threads 1 2 --rounds 5 --frames 10 --accuracy --json bench/results-cpu.json
"""
import argparse, importlib.util, statistics, tempfile, time
from pathlib import Path

import torch

from pidnet_nb.config import build_dataset, example_input, get_config, load_model
from pidnet_nb.core import cpu_int8, machine, pairs_saturate, write_json
from pidnet_nb.anatomy import count_cost
from pidnet_nb.runtime import int8_conv_model, open_runner, int8_peak, time_calls
from pidnet_nb.model import pidnet_s, weights_digest
from pidnet_nb.metrics import evaluate
from pidnet_nb.quant import calibration_order



def calibration_images(cfg, batches:int) -> list:
    "Our calibration images: the first `batches` training images in calibration order, normalised (1, 3, H, W) arrays."
    ds = build_dataset(cfg, cfg.DATASET.TRAIN_SET)
    return [ds[i][0][None].numpy() for i in calibration_order(len(ds))[:batches]]


def nncf_int8(fp32:Path, cfg, batches:int, out:Path) -> Path:
    "NNCF's default PTQ of the fp32 ONNX model on our calibration images (the same `batches` training images), saved as IR."
    import nncf, openvino as ov
    images = calibration_images(cfg, batches)
    quantized = nncf.quantize(ov.Core().read_model(str(fp32)), nncf.Dataset(images), subset_size=len(images))
    ov.save_model(quantized, str(out / 'nncf_int8.xml'))
    return out / 'nncf_int8.xml'


def pytorch_x86_int8(model, x:torch.Tensor, images:list):
    "PyTorch's x86 int8 path as its tutorial gives it: X86InductorQuantizer (default config), calibration, convert, torch.compile."
    from torch._inductor import config as inductor
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (X86InductorQuantizer,
                                                                            get_default_x86_inductor_quantization_config)
    quantizer = X86InductorQuantizer().set_global(get_default_x86_inductor_quantization_config(reduce_range=pairs_saturate(cpu_int8())))
    with torch.no_grad():
        prepared = prepare_pt2e(torch.export.export(model.eval(), (x,)).module(), quantizer)
        for im in images: prepared(torch.from_numpy(im))
        inductor.freezing = True  # constant weights: the int8 convolutions are packed once, as the tutorial does
        compiled = torch.compile(convert_pt2e(prepared))
        compiled(x)  # compile now, not in the first timed round
    def run(feed):
        with torch.no_grad(): return compiled(torch.from_numpy(feed)).numpy()
    return run


def openvino_throughput(path:Path, x, frames:int) -> float:
    "Frames per second of an OpenVINO model with the THROUGHPUT hint and its optimal number of requests in flight."
    import openvino as ov
    model = ov.Core().compile_model(str(path), 'CPU', {'PERFORMANCE_HINT': 'THROUGHPUT'})
    n = model.get_property('OPTIMAL_NUMBER_OF_INFER_REQUESTS')
    queue = ov.AsyncInferQueue(model, n)
    for _ in range(n): queue.start_async({0: x})  # warm-up: every request once
    queue.wait_all()
    t = time.perf_counter()
    for _ in range(frames): queue.start_async({0: x})
    queue.wait_all()
    return frames / (time.perf_counter() - t)


def runner(path:Path, threads:int):
    "A callable (numpy image batch -> numpy logits) for an ONNX file (ONNX Runtime), an OpenVINO IR, or `openvino:` + an ONNX file."
    openvino = str(path).startswith('openvino:')
    run, _ = open_runner(str(path).replace('openvino:', ''), threads, 'openvino' if openvino else None)
    return lambda x: run(x)[0]


def routes(comp:Path, work:Path, cfg, batches:int) -> dict:
    "Name -> model file of every route: ours from the compile folder, and the OpenVINO peers when the extra is installed."
    found = {'onnxruntime fp32': comp / 'model_fp32.onnx'}
    found.update({f'onnxruntime int8 ({p.stem})': p for p in sorted(comp.glob('*int8*.onnx'))})
    found.update({f'openvino int8 ({p.stem})': p for p in sorted(comp.glob('*int8*.xml'))})
    if importlib.util.find_spec('openvino') and importlib.util.find_spec('nncf'):
        import openvino as ov  # its default inference precision on this CPU (bf16 where the CPU has it) names the row
        hint = ov.Core().get_property('CPU', 'INFERENCE_PRECISION_HINT').to_string()
        found[f'openvino fp32 model ({hint} inference)'] = Path('openvino:' + str(comp / 'model_fp32.onnx'))
        found['openvino+nncf int8 (default PTQ)'] = nncf_int8(comp / 'model_fp32.onnx', cfg, batches, work)
    return found


X86 = 'pytorch x86 int8 (torchao + inductor)'


def runners(files:dict, threads:int, x86=None) -> dict:
    "Name -> callable (numpy batch -> numpy logits) of every route with `threads` threads."
    torch.set_num_threads(threads)  # PyTorch's route: its compiled kernels use PyTorch's thread pool
    return {**{k: runner(p, threads) for k, p in files.items()}, **({X86: x86} if x86 else {})}


def measure(model, x, files:dict, threads:int, rounds:int, frames:int, x86=None) -> dict:
    "Median latency (and min..max) over `rounds` interleaved rounds of every route with `threads` threads."
    feed = x.numpy()
    runs = {'pytorch eager fp32': lambda: model(x), **{k: (lambda r=r: r(feed)) for k, r in runners(files, threads, x86).items()}}
    means = {k: [] for k in runs}
    with torch.inference_mode():
        for _ in range(rounds):
            for k, fn in runs.items():
                time.sleep(0.1)  # the previous route's worker threads spin for some ms after its last run: let them go idle first
                means[k].append(time_calls(fn, frames, warmup=2)['mean_ms'])
    ms = {k: statistics.median(v) for k, v in means.items()}
    return {'median_ms': ms, 'range_ms': {k: [min(v), max(v)] for k, v in means.items()}, 'fps': {k: 1e3 / v for k, v in ms.items()}}


def floor_shares(ms:dict, work:Path, threads:int, gmac:float) -> dict:
    "Each runtime's int8 peak (GMAC/s) and floor (ms), and every route's floor as a share of its latency (%)."
    conv = int8_conv_model(work / 'one_conv.onnx')
    peak = {rt: int8_peak(conv, threads, rt) for rt in ('onnxruntime', 'openvino') if importlib.util.find_spec(rt)}
    floor = {rt: 1e3 * gmac / p for rt, p in peak.items()}
    runtime = lambda k: next((rt for rt in floor if k.startswith(rt)), None)
    return {'peak_gmacs': peak, 'floor_ms': floor, 'share_of_floor': {k: 100 * floor[runtime(k)] / v for k, v in ms.items() if runtime(k)}}


def accuracy(files:dict, cfg, threads:int, x86=None) -> dict:
    "CamVid test mIoU (%) of every route but PyTorch eager (the float model's own score)."
    ds = build_dataset(cfg)
    out = {}
    for k, run in runners(files, threads, x86).items():
        out[k] = 100 * evaluate(lambda x: torch.from_numpy(run(x.numpy())), ds, progress=False, num_workers=0).miou  # no fork beside OpenVINO's threads
        print(f'{k}: mIoU {out[k]:.2f}', flush=True)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--compile', default='compile', help='a `pidnet-nb compile` folder: model_fp32.onnx and the int8 routes')
    p.add_argument('--threads', type=int, nargs='+', default=[1, torch.get_num_threads()], help='thread counts to measure')
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--frames', type=int, default=10, help='timed runs per route and round')
    p.add_argument('--calib-batches', type=int, default=100, help="NNCF's calibration images (ours: the calibration's)")
    p.add_argument('--accuracy', action='store_true', help='also score every route on the CamVid test set')
    p.add_argument('--throughput-frames', type=int, default=200, help='frames of the OpenVINO throughput row (0: none)')
    p.add_argument('--json', default=None)
    p.add_argument('opts', nargs=argparse.REMAINDER, help='KEY VALUE config overrides (e.g. TEST.MODEL_FILE)')
    args = p.parse_args(argv)
    cfg = get_config('camvid/pidnet_small_camvid', args.opts)  # the shipped weights unless TEST.MODEL_FILE says otherwise
    model, x = load_model(cfg), example_input(cfg).normal_(generator=torch.Generator().manual_seed(0))
    work = Path(tempfile.mkdtemp(prefix='bench_'))
    files = routes(Path(args.compile), work, cfg, args.calib_batches)
    x86 = pytorch_x86_int8(load_model(cfg), x, calibration_images(cfg, args.calib_batches))
    result = {'machine': machine(), 'cpu_int8': cpu_int8(), 'weights_sha256': weights_digest(model), 'rounds': args.rounds, 'frames': args.frames, 'input': list(x.shape),
              'gmac': count_cost(pidnet_s(num_classes=cfg.DATASET.NUM_CLASSES), tuple(x.shape[2:]))['macs'] / 1e9,
              'routes': {k: str(v).replace(str(work), '<bench>') for k, v in files.items()}, 'by_threads': {}}
    for threads in args.threads:
        result['by_threads'][threads] = r = measure(model, x, files, threads, args.rounds, args.frames, x86)
        r.update(floor_shares(r['median_ms'], work, threads, result['gmac']))
        print(f'{threads} thread(s): ' + ', '.join(f'{k} {v:.1f} ms' for k, v in r['median_ms'].items()), flush=True)
    ov_int8 = {k: p for k, p in files.items() if k.startswith('openvino') and 'int8' in k}
    if args.throughput_frames and ov_int8:  # interleaved rounds, as for latency
        fps = {k: [] for k in ov_int8}
        for _ in range(args.rounds):
            for k, p in ov_int8.items(): time.sleep(0.1); fps[k].append(openvino_throughput(p, x.numpy(), args.throughput_frames))
        result['throughput_fps'] = {k: statistics.median(v) for k, v in fps.items()}
        print('throughput: ' + ', '.join(f'{k} {v:.1f} fps' for k, v in result['throughput_fps'].items()), flush=True)
    if args.accuracy: result['miou'] = accuracy(files, cfg, max(args.threads), x86)
    if args.json: write_json(result, args.json)
    return result


if __name__ == '__main__':
    main()
