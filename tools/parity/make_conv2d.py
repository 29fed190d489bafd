#!/usr/bin/python3
"""Parity fixtures for crt's Conv2d / Pad2d / UpsampleNearest2x against PyTorch.

    /usr/bin/python3 tools/parity/make_conv2d.py

Writes tests/Crt.Tensors.Tests/data/parity/conv2d.safetensors. For every case NAME it stores the
inputs NAME.x, NAME.w, NAME.b, the output NAME.y, a fixed random upstream gradient NAME.gy and the
gradients NAME.dx, NAME.dw, NAME.db of y.backward(gy), all computed by PyTorch in float32 (the
convolution cases run through F.conv2d, i.e. oneDNN/native CPU kernels). Metadata holds each case's
stride and padding (top, bottom, left, right) as "NAME": "stride,top,bottom,left,right".
"""
import pathlib
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import safetensors_io as st  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "Crt.Tensors.Tests" / "data" / "parity" / "conv2d.safetensors"

# name: (x shape, w shape, stride, (top, bottom, left, right))
CASES = {
    "c3x3_s1_p1": ((2, 3, 7, 9), (5, 3, 3, 3), 1, (1, 1, 1, 1)),
    # VQGAN downsample: F.pad(x, (0, 1, 0, 1)) then a 3x3 stride-2 conv without padding.
    "c3x3_s2_pad0101": ((2, 4, 9, 8), (6, 4, 3, 3), 2, (0, 1, 0, 1)),
    "c1x1": ((2, 17, 5, 7), (8, 17, 1, 1), 1, (0, 0, 0, 0)),
    # PatchGAN: 4x4 stride 2 padding 1, then 4x4 stride 1 padding 1.
    "c4x4_s2_p1": ((2, 3, 16, 14), (8, 3, 4, 4), 2, (1, 1, 1, 1)),
    "c4x4_s1_p1": ((1, 8, 7, 7), (1, 8, 4, 4), 1, (1, 1, 1, 1)),
}


def main():
    torch.manual_seed(1234)
    out, meta = {}, {}
    for name, (xs, ws, stride, (t, b, l, r)) in CASES.items():
        x = torch.randn(*xs, requires_grad=True)
        w = (torch.randn(*ws) / (ws[1] * ws[2] * ws[3]) ** 0.5).requires_grad_()
        bias = torch.randn(ws[0], requires_grad=True)
        if (t, b, l, r) == (t, t, t, t):
            y = F.conv2d(x, w, bias, stride=stride, padding=t)
        else:
            y = F.conv2d(F.pad(x, (l, r, t, b)), w, bias, stride=stride)
        gy = torch.randn_like(y)
        y.backward(gy)
        for k, v in {"x": x, "w": w, "b": bias, "y": y, "gy": gy, "dx": x.grad, "dw": w.grad, "db": bias.grad}.items():
            out[f"{name}.{k}"] = v.detach().float().contiguous()
        meta[name] = f"{stride},{t},{b},{l},{r}"

    # Nearest x2 upsampling and constant padding (with a crop on one side), with their gradients.
    x = torch.randn(2, 3, 5, 7, requires_grad=True)
    y = F.interpolate(x, scale_factor=2, mode="nearest")
    gy = torch.randn_like(y)
    y.backward(gy)
    out.update({"up.x": x.detach(), "up.y": y.detach(), "up.gy": gy, "up.dx": x.grad})
    x = torch.randn(2, 3, 5, 7, requires_grad=True)
    y = F.pad(x, (2, -1, 0, 3), value=0.5)  # left, right, top, bottom
    gy = torch.randn_like(y)
    y.backward(gy)
    out.update({"pad.x": x.detach(), "pad.y": y.detach(), "pad.gy": gy, "pad.dx": x.grad})
    meta["pad"] = "top=0,bottom=3,left=2,right=-1,value=0.5"
    meta["torch"] = torch.__version__

    OUT.parent.mkdir(parents=True, exist_ok=True)
    st.save(str(OUT), out, metadata=meta)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(out)} tensors)")


if __name__ == "__main__":
    main()
