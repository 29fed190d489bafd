"""Writes tests/Crt.Tests/data/parity/lpips.safetensors: LPIPS-VGG16 as LlamaGen builds it
(tokenizer/tokenizer_image/lpips.py: ScalingLayer, torchvision's vgg16().features cut into five slices,
NetLinLayer heads, normalize_tensor, spatial_average), with torchvision's real VGG16 module tree.
Pretrained weights are not available here, so every weight is filled from make_vq.py's integer hash
(scaled like a He init), which crt's test repeats. Stored: the inputs, the per-image distances, the
gradient with respect to the first input, the five relu outputs' norms, and the module's key list.
Run: /usr/bin/python3 tools/parity/make_lpips.py"""
import json, os, sys
import torch
import torch.nn.functional as F
from torch import nn
from torchvision import models
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io as st
from make_vq import hash_uniform


class ScalingLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer('shift', torch.Tensor([-.030, -.088, -.188])[None, :, None, None])
        self.register_buffer('scale', torch.Tensor([.458, .448, .450])[None, :, None, None])

    def forward(self, inp):
        return (inp - self.shift) / self.scale


class NetLinLayer(nn.Module):
    def __init__(self, chn_in):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(chn_in, 1, 1, stride=1, padding=0, bias=False))


class Vgg16(nn.Module):
    def __init__(self):
        super().__init__()
        feats = models.vgg16().features  # torchvision's module tree, random init (replaced below)
        bounds = [(0, 4), (4, 9), (9, 16), (16, 23), (23, 30)]
        for k, (a, b) in enumerate(bounds):
            s = nn.Sequential()
            for x in range(a, b):
                s.add_module(str(x), feats[x])
            setattr(self, f"slice{k + 1}", s)

    def forward(self, x):
        outs = []
        for k in range(5):
            x = getattr(self, f"slice{k + 1}")(x)
            outs.append(x)
        return outs


class LPIPS(nn.Module):
    def __init__(self):
        super().__init__()
        self.scaling_layer = ScalingLayer()
        self.chns = [64, 128, 256, 512, 512]
        self.net = Vgg16()
        for i, c in enumerate(self.chns):
            setattr(self, f"lin{i}", NetLinLayer(c))

    def forward(self, a, b):
        o0, o1 = self.net(self.scaling_layer(a)), self.net(self.scaling_layer(b))
        val = 0
        for k in range(5):
            f0 = o0[k] / (torch.sqrt(torch.sum(o0[k] ** 2, dim=1, keepdim=True)) + 1e-10)
            f1 = o1[k] / (torch.sqrt(torch.sum(o1[k] ** 2, dim=1, keepdim=True)) + 1e-10)
            val = val + getattr(self, f"lin{k}").model((f0 - f1) ** 2).mean([2, 3], keepdim=True)
        return val, o0


def main():
    torch.manual_seed(0)
    lp = LPIPS().eval()
    params = dict(lp.named_parameters())
    for j, name in enumerate(sorted(params)):
        p = params[name]
        fan_in = p[0].numel()
        with torch.no_grad():
            p.copy_((hash_uniform(p.numel(), j) * (6.0 / fan_in) ** 0.5).float().view_as(p))
    a = torch.tanh(torch.randn(2, 3, 32, 32))
    b = torch.clamp(a + 0.3 * torch.randn_like(a), -1, 1)
    a.requires_grad_(True)
    val, feats = lp(a, b)
    val.sum().backward()
    out = {"a": a.detach(), "b": b, "lpips": val.detach().reshape(2), "grad_a": a.grad,
           "relu_norms": torch.stack([f.detach().double().norm().float() for f in feats])}
    path = os.path.join(here, "../../tests/Crt.Tests/data/parity/lpips.safetensors")
    keys = {k: list(v.shape) for k, v in lp.state_dict().items()}
    st.save(path, out, metadata={"script": "tools/parity/make_lpips.py", "state_dict_shapes": json.dumps(keys)})
    print("wrote", os.path.normpath(path), "lpips", val.flatten().tolist(), len(keys), "keys")


if __name__ == "__main__":
    main()
