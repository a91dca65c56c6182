"The other dataset layouts, built in a temporary folder from real CamVid frames: PIDNet's colour-label CamVid and Cityscapes."
import cv2
import numpy as np
import pytest

from pidnet_nb.data import CAMVID, IGNORE, camvid, cityscapes, colorize
from pidnet_nb.download import camvid_root

CAMVID_DIR = camvid_root(progress=False)


def test_pidnet_colour_layout_matches_segnet_layout(tmp_path):
    segnet = camvid(CAMVID_DIR, 'test')
    names = [p[0].stem for p in segnet.pairs[:3]]
    (tmp_path / 'images').mkdir(); (tmp_path / 'labels').mkdir(); (tmp_path / 'list' / 'camvid').mkdir(parents=True)
    for i, name in enumerate(names):
        rgb, label = segnet.load(i)
        cv2.imwrite(str(tmp_path / 'images' / f'{name}.png'), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(tmp_path / 'labels' / f'{name}_L.png'), cv2.cvtColor(colorize(label, CAMVID), cv2.COLOR_RGB2BGR))
    (tmp_path / 'list' / 'camvid' / 'test.lst').write_text(''.join(f'images/{n}.png labels/{n}_L.png\n' for n in names))
    pidnet = camvid(tmp_path, 'test')
    assert len(pidnet) == 3
    for i in range(3):
        assert np.array_equal(pidnet.load(i)[1], segnet.load(i)[1])
        assert np.array_equal(pidnet.load(i)[0], segnet.load(i)[0])


def test_cityscapes_scan_and_train_ids(tmp_path):
    rgb = cv2.imread(str(CAMVID_DIR / 'test' / '0001TP_008550.png'))
    ids = np.zeros(rgb.shape[:2], np.uint8); ids[:100] = 7; ids[100:200] = 26; ids[200:] = 3   # road, car, 'out of roi'
    for city, n in (('aachen', 2), ('bremen', 1)):
        for k in range(n):
            stem = f'{city}_{k:06d}_000019'
            (tmp_path / 'leftImg8bit' / 'val' / city).mkdir(parents=True, exist_ok=True)
            (tmp_path / 'gtFine' / 'val' / city).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(tmp_path / 'leftImg8bit' / 'val' / city / f'{stem}_leftImg8bit.png'), rgb)
            cv2.imwrite(str(tmp_path / 'gtFine' / 'val' / city / f'{stem}_gtFine_labelIds.png'), ids)
    ds = cityscapes(tmp_path, 'val')
    assert len(ds) == 3 and ds.pairs[0][0].parent.name == 'aachen'
    _, label = ds.load(0)
    assert label[0, 0] == 0 and label[150, 0] == 13 and label[300, 0] == IGNORE
    image, _ = ds[0]
    assert image.shape == (3, 360, 480)
    with pytest.raises(FileNotFoundError, match='gtFine_labelIds.png: missing'):
        next(iter(ds.pairs))[1].unlink(); ds.load(0)
