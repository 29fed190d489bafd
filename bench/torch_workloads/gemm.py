import torch
import torch.nn.functional as F


def _sgemm(n):
    def setup():
        torch.manual_seed(0)
        a, b = torch.randn(n, n), torch.randn(n, n)
        c = torch.empty(n, n)
        return lambda: torch.mm(a, b, out=c)
    return setup


def _linear():
    torch.manual_seed(0)
    x = torch.randn(2048, 256)
    w = torch.randn(768, 256) * 0.05
    b = torch.randn(768)
    return lambda: F.linear(x, w, b)


WORKLOADS = {f"sgemm-{n}": (_sgemm(n), 2.0 * n ** 3) for n in (256, 512, 1024, 2048)}
WORKLOADS["linear-2048x256x768"] = (_linear, 2.0 * 2048 * 256 * 768)
