"""The README's prose quotes numbers; its generated tables are drawn from the records, its sentences are not. Each
claim below ties a number the prose quotes to the record it comes from (`pretrained_models/camvid/results/`,
`bench/results-cpu.json`, `pretrained_models/camvid/demo-run.json`), so that a record that changes without the prose
fails here; and every mIoU and latency in the prose must be one of these claims, or listed in `NOT_RECORDED` with
where it comes from."""
import json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / 'pretrained_models' / 'camvid' / 'results'
BENCH = json.loads((ROOT / 'bench' / 'results-cpu.json').read_text())
DEMO = json.loads((ROOT / 'pretrained_models' / 'camvid' / 'demo-run.json').read_text())

NOT_RECORDED = {  # quoted by the README, kept in no record of this checkout: where each number comes from
    '51.81': 'the earlier, CPU-trained weights (model card, "Earlier weights")',
    '56.50': 'the previous 8-bit QAT file on 20 test images, this CPU kind (model card, "Why 7-bit weights")',
    '54.78': 'the same file and images with the AVX2 kernels under QEMU (model card, "Why 7-bit weights")',
    '4.25 ms': 'OpenVINO on the AMX Xeon of earlier benchmark runs (an earlier results-cpu.json)',
    '10.1 ms': 'ONNX Runtime on the AMX Xeon of earlier benchmark runs (an earlier results-cpu.json)',
    '10.3': 'the same, its optimized form (an earlier results-cpu.json)'}


def record(name:str) -> float: return 100 * json.loads((RESULTS / f'{name}.json').read_text())['miou']
def bench_ms(threads:str, route:str) -> float: return BENCH['by_threads'][threads]['median_ms'][route]

CLAIMS = {  # a pattern with one number in the README, and the recorded value it quotes (rounded as quoted)
    r'It scores \*\*(\d\d\.\d\d) in ONNX Runtime': record('qat-int8'),
    r'in ONNX Runtime and (\d\d\.\d\d) in OpenVINO': record('qat-int8-openvino'),
    r'at float level \((\d\d\.\d\d)\)': record('float'),
    r'its fake-quant model \((\d\d\.\d\d)\)': record('qat-calib'),
    r'\| AVX-512 VNNI \(Zen 4 EPYC\), measured \| (\d\d\.\d\d) \|': record('qat-calib'),
    r'\| AVX-512 VNNI \(Zen 4 EPYC\), measured \| [\d.]+ \| (\d\d\.\d\d) \|': record('qat-int8'),
    r'\| AVX-512 VNNI \(Zen 4 EPYC\), measured \| [\d.]+ \| [\d.]+ \| (\d\d\.\d\d) \|': record('qat-int8-openvino'),
    r'AVX2-only EPYC the\s+same (\d\d\.\d\d) in ONNX Runtime': record('qat-int8-avx2'),
    r'in ONNX Runtime, and (\d\d\.\d\d) in OpenVINO': record('qat-int8-openvino-avx2'),
    r'\| AVX2 only \(EPYC without AVX-512\), measured \| (\d\d\.\d\d) \|': record('qat-calib-avx2'),
    r'\| AVX2 only \(EPYC without AVX-512\), measured \| [\d.]+ \| (\d\d\.\d\d) \|': record('qat-int8-avx2'),
    r'\| AVX2 only \(EPYC without AVX-512\), measured \| [\d.]+ \| [\d.]+ \| (\d\d\.\d\d) \|': record('qat-int8-openvino-avx2'),
    r'three sigmoids in float, scored (\d\d\.\d\d)': BENCH['miou']['openvino+nncf int8 (default PTQ)'],
    r'`torch\.compile`\) (\d\d\.\d\d)': BENCH['miou']['pytorch x86 int8 (torchao + inductor)'],
    r'simulator scores it at \*\*(\d\d\.\d\d) mIoU': record('rk3588-sim'),
    r'in OpenVINO it runs in (\d+\.\d) ms at 2 threads': bench_ms('2', 'openvino int8 (model_int8)'),
    r"against NNCF's (\d+\.\d) ms": bench_ms('2', 'openvino+nncf int8 (default PTQ)'),
    r"PyTorch int8's (\d+\.\d) ms": bench_ms('2', 'pytorch x86 int8 (torchao + inductor)'),
    r'ONNX Runtime takes (\d+\.\d) ms': bench_ms('2', 'onnxruntime int8 (model_int8_optimized)'),
    r'recorded run \(`pretrained_models/camvid/demo-run.json`:\s+(\d+) s': DEMO['seconds']}


def readme(tables:bool=True) -> str:
    "The README without its code blocks (and without its table rows unless `tables`)."
    lines, code = [], False
    for line in (ROOT / 'README.md').read_text().splitlines():
        if line.startswith('```'): code = not code
        elif not code and (tables or not line.startswith('|')): lines.append(line)
    return '\n'.join(lines)


def test_each_claim_quotes_its_record():
    text = readme()
    for pattern, value in CLAIMS.items():
        found = re.findall(pattern, text)
        assert len(found) == 1, f'{pattern!r}: found {len(found)} times in the README; update CLAIMS with the prose'
        places = len(found[0].split('.')[1]) if '.' in found[0] else 0
        assert found[0] == f'{value:.{places}f}', f'the README quotes {found[0]} where its record now says {value:.{places}f} ({pattern!r})'


def test_every_miou_and_latency_in_the_prose_is_a_claim_or_accounted_for():
    text, claimed = readme(tables=False), set()
    for pattern in CLAIMS: claimed |= {m.start(1) for m in re.finditer(pattern, text)}
    quoted = [m for m in re.finditer(r'(?<![\w.])([4-7]\d\.\d\d(?![\d%])|\d+\.\d+ ms)', text)]
    assert quoted, 'no number found in the README: the pattern is stale'
    loose = sorted({m[1] for m in quoted if m.start(1) not in claimed and m[1] not in NOT_RECORDED})
    assert not loose, f'quoted in the README, tied to no record: {loose}; add a claim to CLAIMS or say where it comes from in NOT_RECORDED'
