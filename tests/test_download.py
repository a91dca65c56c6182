"End-to-end downloader test against a loopback HTTP server serving shared/camvid, with a corrupted file among them."
import os, re, threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pidnet_nb.core import find_shared
from pidnet_nb.download import DownloadError, download_camvid, read_manifest, sha256

CAMVID = find_shared('camvid')
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
    "A loopback server over a mirror of shared/camvid (symlinks) in which one image is corrupted."
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


@pytest.mark.skipif(CAMVID is None, reason='needs shared/camvid')
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
