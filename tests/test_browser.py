"""The compare_masks widget in a real browser: JupyterLab on loopback, Debian's Chromium driven by Playwright.

Opens a notebook that builds the widget over three CamVid test images (float, calib, int8 of the shipped model),
runs it, moves the image slider with the keyboard and asserts that the picture changes. Screenshots go to
report/browser/. Needs /usr/bin/chromium (`.ci/run` installs it)."""
import json, os, secrets, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = '/usr/bin/chromium'
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync']


def notebook() -> dict:
    source = f'''import torch
from pidnet_nb.config import build_dataset, get_config, load_model
from pidnet_nb.masks import StagePredictions, compare_masks
from pidnet_nb.stages import quick_stages
cfg = get_config('camvid/pidnet_small_camvid')
model = load_model(cfg)
test = build_dataset(cfg)
test.pairs = test.pairs[:3]
widget = compare_masks(StagePredictions(test, quick_stages(cfg, model, calib_batches=4)))
widget'''
    cell = {'cell_type': 'code', 'execution_count': None, 'metadata': {}, 'outputs': [], 'source': source}
    return {'cells': [cell], 'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}},
            'nbformat': 4, 'nbformat_minor': 5}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    "JupyterLab serving tmp_path on loopback; yields (base url, token)."
    (tmp_path / 'compare.ipynb').write_text(json.dumps(notebook()))
    port, token = free_port(), secrets.token_hex(16)
    log = open(tmp_path / 'lab.log', 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'jupyter', 'lab', '--no-browser', '--ip=127.0.0.1', f'--port={port}',
                             f'--ServerApp.token={token}', f'--ServerApp.root_dir={tmp_path}', '--LabApp.expose_app_in_browser=True',
                             '--ServerApp.disable_check_xsrf=True', '--allow-root'], stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f'{url}/api/status?token={token}', timeout=2); break
            except OSError: time.sleep(0.5)
        else: pytest.fail(f'JupyterLab did not start: {(tmp_path / "lab.log").read_text()[-2000:]}')
        yield url, token
    finally:
        proc.terminate(); proc.wait(30); log.close()  # also when the server failed to start


def test_compare_masks_in_chromium(lab):
    from playwright.sync_api import sync_playwright
    assert os.path.exists(CHROMIUM), f'{CHROMIUM} missing: apt-get install chromium (.ci/run does)'
    url, token = lab
    shots = ROOT / 'report' / 'browser'; shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={'width': 1600, 'height': 1000})
        page.goto(f'{url}/lab/tree/compare.ipynb?token={token}')
        page.wait_for_selector('.jp-Notebook', timeout=120_000)
        page.wait_for_function('window.jupyterapp !== undefined', timeout=60_000)
        page.wait_for_function("document.querySelector('.jp-Notebook-ExecutionIndicator, .jp-Toolbar-kernelStatus') !== null", timeout=60_000)
        page.wait_for_timeout(3000)  # let the kernel session settle
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        picture = page.locator('.jp-OutputArea-output img').first
        picture.wait_for(timeout=300_000)
        page.wait_for_function("(() => { const i = document.querySelector('.jp-OutputArea-output img'); return i && i.naturalWidth > 0; })()",
                               timeout=60_000)
        before = picture.get_attribute('src')
        page.screenshot(path=str(shots / 'compare_masks_0.png'), full_page=True)
        page.locator('.jp-OutputArea-output .noUi-handle').first.focus()
        page.keyboard.press('ArrowRight')
        page.wait_for_function(f"(() => {{ const i = document.querySelector('.jp-OutputArea-output img'); "
                               f"return i && i.src !== {json.dumps(before)} && i.naturalWidth > 0; }})()", timeout=120_000)
        page.screenshot(path=str(shots / 'compare_masks_1.png'), full_page=True)
        text = page.locator('.jp-OutputArea').first.inner_text()
        assert 'int8' in text and 'mIoU' in text
        assert picture.get_attribute('src') != before
        browser.close()
