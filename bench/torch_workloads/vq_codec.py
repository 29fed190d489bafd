"""PyTorch twin of bench/Crt.Bench/Workloads/VqCodec.cs: vq-f16 (LlamaGen's VQ-16, restated in _models.py
from tools/parity/make_vq.py) encodes, quantizes and decodes one 3×256×256 image, eval mode, no grad."""
import torch

from ._device import DEVICE, SCALE
from ._models import VQModel, VqConfig


def _codec():
    torch.manual_seed(0)
    vq = VQModel(VqConfig()).eval().to(DEVICE)
    x = (torch.rand(SCALE, 3, 256, 256) * 2 - 1).to(DEVICE)

    def run():
        with torch.no_grad():
            q, _ = vq.encode(x)
            vq.decode(q)
    return run


WORKLOADS = {"vqf16-encode-quantize-decode-256": (_codec, 0.0)}
