"`pidnet-nb infer` on a folder of real CamVid frames of different sizes, with the shipped weights."
from pathlib import Path

import cv2
import pytest

from pidnet_nb.cli import main
from pidnet_nb.core import find_shared, read_rgb

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / 'pretrained_models' / 'camvid' / 'pidnet_s_camvid.pt'


def test_infer_float_folder(tmp_path, capsys):
    camvid = find_shared('camvid')
    frames = sorted((camvid / 'test').glob('*.png'))[:2]
    src = tmp_path / 'in'; src.mkdir()
    cv2.imwrite(str(src / 'full.png'), cv2.imread(str(frames[0])))
    cv2.imwrite(str(src / 'small.jpg'), cv2.resize(cv2.imread(str(frames[1])), (200, 150)))
    (src / 'notes.txt').write_text('not an image')
    main(['infer', '-c', 'camvid/pidnet_small_camvid', '--input', str(src), '--output', str(tmp_path / 'out'),
          'TEST.MODEL_FILE', str(WEIGHTS)])
    assert '2 images' in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['full_mask.png', 'full_side.png', 'small_mask.png', 'small_side.png']
    assert read_rgb(tmp_path / 'out' / 'small_side.png').shape == (150, 400, 3)
    mask = read_rgb(tmp_path / 'out' / 'full_mask.png')
    assert mask.shape == (360, 480, 3) and len({tuple(c) for c in mask.reshape(-1, 3)}) >= 4  # several classes found


def test_infer_reports_empty_folder(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(SystemExit, match='no images'):
        main(['infer', '-c', 'camvid/pidnet_small_camvid', '--input', str(tmp_path / 'empty'), '--output', str(tmp_path / 'o'),
              'TEST.MODEL_FILE', str(WEIGHTS)])
