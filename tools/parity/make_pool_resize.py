#!/usr/bin/python3
"""Parity fixtures for crt's padded pooling and bilinear resizing against PyTorch.

    /usr/bin/python3 tools/parity/make_pool_resize.py

Writes tests/Crt.Tensors.Tests/data/parity/pool_resize.safetensors. For every case NAME it stores the
input NAME.x, the output NAME.y, a fixed random upstream gradient NAME.gy and PyTorch's NAME.dx of
y.backward(gy), all float32. Cases: the three pools the FID Inception uses (3x3 stride 1 padding 1
average with and without count_include_pad, max), a strided padded pool, and F.interpolate bilinear
with align_corners=False up, down and mixed (one axis each way), including 13 -> 75 (a non-integer ratio, as 32 -> 299).
"""
import pathlib
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import safetensors_io as st  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "Crt.Tensors.Tests" / "data" / "parity" / "pool_resize.safetensors"

CASES = {
    "avg3_p1_exclude": ((2, 3, 5, 6), lambda x: F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)),
    "avg3_p1_include": ((2, 3, 5, 6), lambda x: F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=True)),
    "max3_p1": ((2, 3, 5, 6), lambda x: F.max_pool2d(x, 3, stride=1, padding=1)),
    "avg3_s2_p1_exclude": ((1, 2, 7, 8), lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)),
    "max2_s2_p1": ((1, 2, 7, 8), lambda x: F.max_pool2d(x, 2, stride=2, padding=1)),
    "resize_up_6x5_to_23x17": ((2, 2, 6, 5), lambda x: F.interpolate(x, size=(23, 17), mode="bilinear", align_corners=False)),
    "resize_down_9x11_to_4x5": ((1, 3, 9, 11), lambda x: F.interpolate(x, size=(4, 5), mode="bilinear", align_corners=False)),
    "resize_mixed_7x4_to_3x10": ((1, 1, 7, 4), lambda x: F.interpolate(x, size=(3, 10), mode="bilinear", align_corners=False)),
    "resize_13_to_75": ((1, 1, 13, 13), lambda x: F.interpolate(x, size=(75, 75), mode="bilinear", align_corners=False)),
}


def main():
    torch.manual_seed(4321)
    out = {}
    for name, (shape, f) in CASES.items():
        x = torch.randn(*shape, requires_grad=True)
        y = f(x)
        gy = torch.randn_like(y)
        y.backward(gy)
        for k, v in {"x": x, "y": y, "gy": gy, "dx": x.grad}.items():
            out[f"{name}.{k}"] = v.detach().float().contiguous()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    st.save(str(OUT), out, metadata={"script": "tools/parity/make_pool_resize.py", "torch": torch.__version__})
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(out)} tensors)")


if __name__ == "__main__":
    main()
