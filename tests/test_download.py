"""The downloader end to end: a loopback HTTP mirror of the verified CamVid copy with a corrupted file among them,
and first use of the data folder by two processes at once."""
import os, re, subprocess, sys, threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pidnet_nb.download import DownloadError, VERIFIED, camvid_root, download_camvid, read_manifest, sha256

CAMVID = camvid_root(progress=False)  # the verified copy in the data folder
BAD = 'test/0001TP_008550.png'


class RangeHandler(SimpleHTTPRequestHandler):
    "Static files with single-range `Range` support (http.server has none), quiet."
    ranges = []  # (path, Range header) of every ranged request, to check that transfers resume

    def log_message(self, *a): pass

    def send_head(self):
        m = re.fullmatch(r'bytes=(\d+)-', self.headers.get('Range', ''))
        path = Path(self.translate_path(self.path))
        if not m or not path.is_file(): return super().send_head()
        RangeHandler.ranges.append((self.path, m[0]))
        start, size = int(m[1]), path.stat().st_size
        if start >= size:
            self.send_error(416); return None
        f = open(path, 'rb'); f.seek(start)
        self.send_response(206)
        self.send_header('Content-Range', f'bytes {start}-{size - 1}/{size}')
        self.send_header('Content-Length', str(size - start))
        self.end_headers()
        return f


@pytest.fixture
def served(tmp_path):
    "A loopback server over a mirror of the local copy (symlinks) in which one image is corrupted."
    root = tmp_path / 'mirror' / 'CamVid'
    for rel in read_manifest():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(CAMVID / rel, root / rel)
    (root / BAD).unlink()
    data = bytearray((CAMVID / BAD).read_bytes()); data[500] ^= 0xFF
    (root / BAD).write_bytes(bytes(data))
    server = ThreadingHTTPServer(('127.0.0.1', 0), partial(RangeHandler, directory=str(tmp_path / 'mirror')))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f'http://127.0.0.1:{server.server_address[1]}/CamVid'
    server.shutdown()


def test_loopback_download_corrupt_then_resume(served, tmp_path):
    root, url = served
    dest = tmp_path / 'camvid'
    manifest = read_manifest()
    with pytest.raises(DownloadError, match=re.escape(BAD)):
        download_camvid(dest, source=url, workers=4, progress=False)
    assert not (dest / BAD).exists() and not (dest / (BAD + '.part')).exists()
    assert sum((dest / rel).exists() for rel in manifest) == len(manifest) - 1  # nothing else lost

    # the mirror is repaired; meanwhile one local file got damaged and another transfer was interrupted
    (root / BAD).unlink(); os.symlink(CAMVID / BAD, root / BAD)
    damaged, partial_file = dest / 'train/0001TP_006690.png', dest / 'val/0016E5_07959.png'
    damaged.write_bytes(b'not a png')
    half = partial_file.read_bytes()[:20000]
    partial_file.unlink(); partial_file.with_name(partial_file.name + '.part').write_bytes(half)

    counts = download_camvid(dest, source=url, workers=4, progress=False)
    assert counts == {'kept': len(manifest) - 3, 'fetched': 2, 'refetched': 1}
    assert all(sha256(dest / rel) == h for rel, h in manifest.items())
    assert not list(dest.rglob('*.part'))
    assert ('/CamVid/val/0016E5_07959.png', 'bytes=20000-') in RangeHandler.ranges  # resumed, not restarted


def test_offline_message_names_source(tmp_path):
    with pytest.raises(DownloadError, match='--source'):
        download_camvid(tmp_path / 'x', source='http://127.0.0.1:9/CamVid', progress=False)


def test_first_use_downloads_once_under_a_lock(tmp_path):
    "Two processes that need CamVid at once in an empty data folder: one downloads and verifies, the other waits."
    code = 'from pidnet_nb.download import camvid_root; print(camvid_root(progress=False))'
    env = {**os.environ, 'PIDNET_DATA': str(tmp_path / 'data'), 'PIDNET_CAMVID_SOURCE': str(CAMVID)}
    procs = [subprocess.Popen([sys.executable, '-c', code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert {o.strip() for o, _ in outs} == {str(tmp_path / 'data' / 'camvid')}
    said = [e for _, e in outs if 'downloading it from' in e]
    assert len(said) == 1 and 'PIDNET_CAMVID_SOURCE' in said[0] and 'PIDNET_DATA' in said[0]  # names the source and the overrides
    dest, manifest = tmp_path / 'data' / 'camvid', read_manifest()
    assert (dest / VERIFIED).exists() and all(sha256(dest / rel) == h for rel, h in manifest.items())
