"The public contract other tools rely on: names, call signatures and output shapes."
import torch
from pidnet_nb.model import PIDNet, load_pretrained, pidnet_l, pidnet_m, pidnet_s


def test_augment_returns_three_outputs():
    x = torch.randn(1, 3, 64, 128)
    with torch.no_grad():
        out = pidnet_s(num_classes=19, augment=True).eval()(x)
        main = pidnet_s(num_classes=19, augment=False).eval()(x)
    assert isinstance(out, tuple) and [t.shape[1] for t in out] == [19, 19, 1]
    assert main.shape == (1, 19, 8, 16)


def test_official_constructor_matches_builders():
    a = PIDNet(m=3, n=4, num_classes=11, planes=64, ppm_planes=112, head_planes=256, augment=False)
    b = pidnet_l(num_classes=11)
    assert {k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in b.state_dict().items()}
    assert pidnet_m().final_layer.conv2.out_channels == 19


def test_own_checkpoint_roundtrip(tmp_path):
    src = pidnet_s(num_classes=11, augment=True)
    path = tmp_path / 'ckpt.pt'
    torch.save({'model': {k: v.half() for k, v in src.state_dict().items()}}, path)
    dst = pidnet_s(num_classes=11, augment=True)
    report = load_pretrained(dst, path)
    assert report.kind == 'pidnet_nb' and report.ok
    assert torch.equal(dst.final_layer.conv2.weight, src.final_layer.conv2.weight.half().float())
