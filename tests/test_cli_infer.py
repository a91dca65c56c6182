"`pidnet-nb infer` on folders of real CamVid frames of different sizes, with the shipped weights: one stage, all stages, unreadable images."
from pathlib import Path

import cv2
import pytest

from pidnet_nb.cli import main
from pidnet_nb.core import read_rgb
from pidnet_nb.download import camvid_root

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / 'pretrained_models' / 'camvid' / 'pidnet_s_camvid.pt'
CFG = ['-c', 'camvid/pidnet_small_camvid']


@pytest.fixture(scope='module')
def frames():
    "Two CamVid test frames (paths)."
    return sorted((camvid_root() / 'test').glob('*.png'))[:2]


def infer(src, out, *args):
    main(['infer', *CFG, '--input', str(src), '--output', str(out), *args, 'TEST.MODEL_FILE', str(WEIGHTS)])


def test_infer_float_folder(tmp_path, capsys, frames):
    src = tmp_path / 'in'; src.mkdir()
    cv2.imwrite(str(src / 'full.png'), cv2.imread(str(frames[0])))
    cv2.imwrite(str(src / 'small.jpg'), cv2.resize(cv2.imread(str(frames[1])), (200, 150)))
    (src / 'notes.txt').write_text('not an image')
    infer(src, tmp_path / 'out')
    assert '2 images' in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == [
        'full_png_mask.png', 'full_png_side.png', 'small_jpg_mask.png', 'small_jpg_side.png']
    assert read_rgb(tmp_path / 'out' / 'small_jpg_side.png').shape == (150, 400, 3)
    mask = read_rgb(tmp_path / 'out' / 'full_png_mask.png')
    assert mask.shape == (360, 480, 3) and len({tuple(c) for c in mask.reshape(-1, 3)}) >= 4  # several classes found


def test_infer_keeps_same_stem_apart(tmp_path, capsys, frames):
    src = tmp_path / 'in'; src.mkdir()
    cv2.imwrite(str(src / 'x.png'), cv2.imread(str(frames[0])))
    cv2.imwrite(str(src / 'x.jpg'), cv2.resize(cv2.imread(str(frames[1])), (240, 180)))
    infer(src, tmp_path / 'out')
    assert '2 images' in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['x_jpg_mask.png', 'x_jpg_side.png', 'x_png_mask.png', 'x_png_side.png']
    assert read_rgb(tmp_path / 'out' / 'x_png_mask.png').shape == (360, 480, 3)
    assert read_rgb(tmp_path / 'out' / 'x_jpg_mask.png').shape == (180, 240, 3)


def test_infer_all_stages(tmp_path, capsys, frames):
    main(['calibrate', *CFG, '--batches', '2', '--out', str(tmp_path / 'calib'),
          'DATASET.ROOT', str(camvid_root()), 'TEST.MODEL_FILE', str(WEIGHTS)])
    src = tmp_path / 'in'; src.mkdir()
    for f in frames: cv2.imwrite(str(src / f.name), cv2.imread(str(f)))
    capsys.readouterr()
    infer(src, tmp_path / 'out', '--stage', 'all', '--calib', str(tmp_path / 'calib' / 'calib-checkpoint-last.pt'))
    printed = capsys.readouterr().out
    assert '2 images' in printed and 'calib: fake-quant' in printed and 'int8: ONNX Runtime' in printed
    names = sorted(f'{f.stem}_png' for f in frames)
    out = tmp_path / 'out'
    assert sorted(p.name for p in out.iterdir()) == ['calib', 'float', 'int8', 'side']
    for stage in ('float', 'calib', 'int8'):
        assert sorted(p.name for p in (out / stage).iterdir()) == [f'{n}_mask.png' for n in names]
        assert read_rgb(out / stage / f'{names[0]}_mask.png').shape == (360, 480, 3)
    assert sorted(p.name for p in (out / 'side').iterdir()) == [f'{n}_side.png' for n in names]
    side = read_rgb(out / 'side' / f'{names[0]}_side.png')
    assert side.shape[1] == 5 * 480 and side.shape[0] > 360  # input | float | calib | int8 | diff, under title bars


def test_infer_skips_unreadable_image(tmp_path, capsys, frames):
    src = tmp_path / 'in'; src.mkdir()
    cv2.imwrite(str(src / 'good.png'), cv2.imread(str(frames[0])))
    (src / 'corrupt.png').write_bytes(b'\x89PNG\r\n\x1a\n' + b'\0' * 40)  # a PNG signature and nothing readable
    infer(src, tmp_path / 'out')
    printed = capsys.readouterr().out
    assert f'skipped {src / "corrupt.png"}: ' in printed
    assert '1 image:' in printed and '1 skipped' in printed
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['good_png_mask.png', 'good_png_side.png']


def test_infer_all_unreadable_is_one_line_error(tmp_path):
    src = tmp_path / 'in'; src.mkdir()
    (src / 'a.png').write_bytes(b'not a png')
    (src / 'b.jpg').write_bytes(b'')
    with pytest.raises(SystemExit) as e:
        infer(src, tmp_path / 'out')
    message = str(e.value.code)
    assert message.startswith('pidnet-nb infer: error: ') and 'no readable image' in message and '\n' not in message
    assert 'a.png' in message and '1 more' in message
    assert not (tmp_path / 'out').exists()


def test_infer_reports_empty_folder(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(SystemExit, match='no images'):
        infer(tmp_path / 'empty', tmp_path / 'o')
