"""The project's test command (`make test`): source checks (exported modules and README up to date, Python 3.8 syntax),
every notebook through nbdev-test, the pytest suite.
Ends with the line `N passed, N failed`."""
import hashlib, subprocess, sys, tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def snapshot(*globs):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for g in globs for p in sorted(ROOT.glob(g))}

def run(*cmd):
    print('$', ' '.join(map(str, cmd)), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT)

def unchanged(name, cmd, *globs):
    "Run `cmd` and report whether it changed any file matching `globs`."
    before = snapshot(*globs)
    rc = run(*cmd).returncode
    after = snapshot(*globs)
    changed = sorted(str(p.relative_to(ROOT)) for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    if changed: print(f'FAIL {name}: changed {", ".join(changed)}; run it and commit the result')
    return rc == 0 and not changed

def py38():
    "The package parses as Python 3.8, the OE docker's (syntax and standard-library use, checked statically by vermin;\n    `long` is excluded: vermin takes tensor.long() for Python 2's builtin)."
    return run(BIN / 'vermin', '--target=3.8-', '--violations', '--no-tips', '--exclude', 'long', 'pidnet_nb').returncode == 0

RKNN_ENV = ROOT / '.venv-rknn'  # `make rknn`: rknn-toolkit2 and its pins, for the RK3588 chapter
RKNN_NOTEBOOKS = ['22_rknn.ipynb']

def nbdev_test(bin_dir, nbs, *args):
    "nbdev-test of `bin_dir` over the notebooks `nbs`; the names of those that failed."
    r = subprocess.run([str(bin_dir / 'nbdev-test'), '--timing', *args], cwd=ROOT, capture_output=True, text=True)
    print(r.stdout[-4000:], r.stderr[-8000:], sep='\n')
    failed = [n for n in nbs if f'\t{n}' in r.stdout + r.stderr] if r.returncode else []
    return failed or (['nbdev-test'] if r.returncode else [])

def notebooks():
    "nbdev-test over every notebook (the RK3588 chapter with the rknn environment's); (passed, failed, skipped)."
    nbs = sorted(p.name for p in (ROOT / 'nbs').glob('*.ipynb'))
    main = [n for n in nbs if n not in RKNN_NOTEBOOKS]
    failed = nbdev_test(BIN, main, '--n-workers', '2', '--skip-file-re', '|'.join(n.replace('.', r'\.') for n in RKNN_NOTEBOOKS))
    if (RKNN_ENV / '.installed').exists():
        for n in RKNN_NOTEBOOKS: failed += nbdev_test(RKNN_ENV / 'bin', [n], f'nbs/{n}')
        skipped = 0
    else:
        print(f'SKIP {", ".join(RKNN_NOTEBOOKS)}: the rknn environment is not built (`make rknn` failed or was not run; its output says why)')
        skipped = len(RKNN_NOTEBOOKS)
    return len(nbs) - skipped - len([f for f in failed if f in nbs]), len(failed), skipped

def pytest_suite():
    "pytest over tests/; (passed, failed, skipped)."
    with tempfile.TemporaryDirectory() as d:
        xml = Path(d) / 'junit.xml'
        rc = run(BIN / 'python', '-m', 'pytest', 'tests', '-q', '-rs', f'--junitxml={xml}', '-p', 'no:cacheprovider').returncode
        if not xml.exists(): return 0, 1, 0
        s = ET.parse(xml).getroot()
        s = s if s.tag == 'testsuite' else s.find('testsuite')
        n, f, e, sk = (int(s.get(k, 0)) for k in ('tests', 'failures', 'errors', 'skipped'))
        failed = f + e + (1 if rc not in (0, 5) and not (f + e) else 0)
        return n - f - e - sk, failed, sk

if __name__ == '__main__':
    checks = [unchanged('nbdev-export', [BIN / 'nbdev-export'], 'pidnet_nb/**/*.py'),
              unchanged('nbdev-clean', [BIN / 'nbdev-clean'], 'nbs/*.ipynb'),
              run(BIN / 'python', 'tools/readme.py', '--check').returncode == 0,
              py38()]
    nb_pass, nb_fail, nb_skip = notebooks()
    py_pass, py_fail, py_skip = pytest_suite()
    passed, failed, skipped = sum(checks) + nb_pass + py_pass, checks.count(False) + nb_fail + py_fail, nb_skip + py_skip
    print(f'source checks: {sum(checks)}/{len(checks)}; notebooks: {nb_pass} passed, {nb_fail} failed, {nb_skip} skipped; '
          f'pytest: {py_pass} passed, {py_fail} failed, {py_skip} skipped')
    print(f'{passed} passed, {failed} failed' + (f', {skipped} skipped' if skipped else ''))
    sys.exit(1 if failed else 0)
