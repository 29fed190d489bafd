#!/usr/bin/python3
"""Writes tests/Crt.Tests/data/parity/inception.safetensors: InceptionV3 as pytorch-fid builds it for FID.

pytorch-fid's fid_inception_v3() (src/pytorch_fid/inception.py) takes torchvision's
inception_v3(num_classes=1008, aux_logits=False, init_weights=False) and swaps nine blocks for
FIDInceptionA (Mixed_5b/5c/5d), FIDInceptionC (Mixed_6b..6e), FIDInceptionE_1 (Mixed_7b) and
FIDInceptionE_2 (Mixed_7c); those classes are restated below as pytorch-fid writes them. The blocks
both nets share (the stem, Mixed_6a = InceptionB, Mixed_7a = InceptionD) run from torchvision itself.

The pretrained weights (pt_inception-2015-12-05) are not available here, so every tensor of the state
dict is filled from make_vq.py's integer hash by fill() below, which crt's test repeats: tensor j in
sorted-key order (num_batches_tracked skipped) gets, with u = hash_uniform(i, j) in [-1, 1):
conv and fc weights u*sqrt(6/fan_in); bn.weight 1 + 0.1u; bn.bias, bn.running_mean, fc.bias 0.1u;
bn.running_var 1 + 0.5u. Stored (all float32):
  (a) torchvision alone on x [2,3,75,75]: stem (input of Mixed_5b), Mixed_6a's input and output,
      Mixed_7a's input and output;
  (b) each FID block on its own random input [1, C, 4, 5] (signed, so a max pool padded with zeros
      instead of -inf would show): a_in/a_out (Mixed_5b), c_* (Mixed_6b), e1_* (Mixed_7b), e2_* (Mixed_7c);
  (c) the whole FID net on x without resizing: pool3 [2, 2048] and logits [2, 1008];
  (d) the 299 path: a grayscale gray [1,1,32,32] in [-1, 1] repeated to RGB and resized bilinearly to
      299x299 (F.interpolate, align_corners=False, as pytorch-fid): gray_pool3, gray_logits;
and the metadata holds the keys and shapes tools/convert_inception.py writes for this net.
Run: /usr/bin/python3 tools/parity/make_inception.py"""
import json, os, sys, tempfile
import torch
import torch.nn.functional as F
import torchvision
from torchvision.models import inception as tvi
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io as st
from make_vq import hash_uniform
sys.path.insert(0, os.path.join(here, ".."))


# ---- pytorch-fid's FID blocks, restated -----------------------------------------------------------

class FIDInceptionA(tvi.InceptionA):
    """InceptionA with TF's average pool: padded zeros are not counted."""

    def forward(self, x):
        branch1x1 = self.branch1x1(x)
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        branch_pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        branch_pool = self.branch_pool(branch_pool)
        return torch.cat([branch1x1, branch5x5, branch3x3dbl, branch_pool], 1)


class FIDInceptionC(tvi.InceptionC):
    """InceptionC with TF's average pool."""

    def forward(self, x):
        branch1x1 = self.branch1x1(x)
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        branch7x7dbl = self.branch7x7dbl_1(x)
        branch7x7dbl = self.branch7x7dbl_2(branch7x7dbl)
        branch7x7dbl = self.branch7x7dbl_3(branch7x7dbl)
        branch7x7dbl = self.branch7x7dbl_4(branch7x7dbl)
        branch7x7dbl = self.branch7x7dbl_5(branch7x7dbl)
        branch_pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        branch_pool = self.branch_pool(branch_pool)
        return torch.cat([branch1x1, branch7x7, branch7x7dbl, branch_pool], 1)


class FIDInceptionE_1(tvi.InceptionE):
    """First InceptionE with TF's average pool."""

    def forward(self, x):
        branch1x1 = self.branch1x1(x)
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = torch.cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], 1)
        branch3x3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = torch.cat([self.branch3x3dbl_3a(branch3x3dbl), self.branch3x3dbl_3b(branch3x3dbl)], 1)
        branch_pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        branch_pool = self.branch_pool(branch_pool)
        return torch.cat([branch1x1, branch3x3, branch3x3dbl, branch_pool], 1)


class FIDInceptionE_2(tvi.InceptionE):
    """Second InceptionE: the FID graph max-pools in its pool branch."""

    def forward(self, x):
        branch1x1 = self.branch1x1(x)
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = torch.cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], 1)
        branch3x3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = torch.cat([self.branch3x3dbl_3a(branch3x3dbl), self.branch3x3dbl_3b(branch3x3dbl)], 1)
        branch_pool = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        branch_pool = self.branch_pool(branch_pool)
        return torch.cat([branch1x1, branch3x3, branch3x3dbl, branch_pool], 1)


def torchvision_inception():
    """torchvision's Inception3 as pytorch-fid's _inception_v3 asks for it (no pretrained weights)."""
    return torchvision.models.inception_v3(weights=None, num_classes=1008, aux_logits=False, init_weights=False)


def fid_inception_v3():
    """pytorch-fid's fid_inception_v3() without the weight download."""
    inception = torchvision_inception()
    inception.Mixed_5b = FIDInceptionA(192, pool_features=32)
    inception.Mixed_5c = FIDInceptionA(256, pool_features=64)
    inception.Mixed_5d = FIDInceptionA(288, pool_features=64)
    inception.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    inception.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    inception.Mixed_7b = FIDInceptionE_1(1280)
    inception.Mixed_7c = FIDInceptionE_2(2048)
    return inception


def fid_forward(net, x):
    """pool_3 features and logits of images x in [-1, 1], already at the size the net should see."""
    for name in ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
                 "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                 "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"]:
        x = getattr(net, name)(x)
    pool3 = F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)
    return pool3, net.fc(pool3)


def stem(net, x):
    for name in ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2"]:
        x = getattr(net, name)(x)
    return x


def fill(net):
    """The deterministic weights crt's test regenerates (see the module docstring)."""
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    with torch.no_grad():
        for j, key in enumerate(sorted(state)):
            t = state[key]
            u = hash_uniform(t.numel(), j)
            if key.endswith("conv.weight") or key == "fc.weight":
                v = u * (6.0 / t[0].numel()) ** 0.5
            elif key.endswith("bn.weight"):
                v = 1 + 0.1 * u
            elif key.endswith("bn.running_var"):
                v = 1 + 0.5 * u
            else:  # bn.bias, bn.running_mean, fc.bias
                v = 0.1 * u
            t.copy_(v.float().view_as(t))
    return net.eval()


def main():
    import convert_inception  # imports this module's network, so only here
    torch.manual_seed(0)
    out = {}
    x = torch.tanh(torch.randn(2, 3, 75, 75))
    out["x"] = x

    # (a) torchvision's own blocks, the ones the FID net keeps.
    tv = fill(torchvision_inception())
    seen = {}
    hooks = [getattr(tv, n).register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, (i[0], o))) for n in ["Mixed_6a", "Mixed_7a"]]
    with torch.no_grad():
        out["stem"] = stem(tv, x)
        fid_forward(tv, x)
    for h in hooks:
        h.remove()
    out["b_in"], out["b_out"] = seen["Mixed_6a"]
    out["d_in"], out["d_out"] = seen["Mixed_7a"]

    # (b) the FID blocks on their own, (c) the whole FID net, (d) the 299 path from a grayscale image.
    fid = fill(fid_inception_v3())
    with torch.no_grad():
        for tag, block, c in [("a", fid.Mixed_5b, 192), ("c", fid.Mixed_6b, 768), ("e1", fid.Mixed_7b, 1280), ("e2", fid.Mixed_7c, 2048)]:
            inp = torch.randn(1, c, 4, 5)
            out[f"{tag}_in"], out[f"{tag}_out"] = inp, block(inp)
        out["pool3"], out["logits"] = fid_forward(fid, x)
        gray = torch.tanh(torch.randn(1, 1, 32, 32))
        out["gray"] = gray
        rgb = F.interpolate(gray.repeat(1, 3, 1, 1), size=(299, 299), mode="bilinear", align_corners=False)
        out["gray_pool3"], out["gray_logits"] = fid_forward(fid, rgb)

    for k, v in out.items():
        print(f"{k:12s} {list(v.shape)} std {v.std().item():.3f} max {v.abs().max().item():.3f}")
    # The key list crt's test checks is the one tools/convert_inception.py writes from a pytorch-fid-style
    # .pth of this net, so the converter runs (and must reproduce every tensor) whenever the fixture is made.
    pth = os.path.join(tempfile.mkdtemp(), "pt_inception-test.pth")
    torch.save(fid.state_dict(), pth)
    converted = convert_inception.convert(torch.load(pth))
    assert all(torch.equal(converted[k], v.float()) for k, v in fid.state_dict().items()) and len(converted) == len(fid.state_dict())
    keys = {k: list(v.shape) for k, v in converted.items()}
    path = os.path.join(here, "../../tests/Crt.Tests/data/parity/inception.safetensors")
    st.save(path, {k: v.float().contiguous() for k, v in out.items()},
            metadata={"script": "tools/parity/make_inception.py", "torch": torch.__version__,
                      "torchvision": torchvision.__version__, "state_dict_shapes": json.dumps(keys)})
    print("wrote", os.path.normpath(path), os.path.getsize(path), "bytes,", len(keys), "state-dict keys")


if __name__ == "__main__":
    main()
