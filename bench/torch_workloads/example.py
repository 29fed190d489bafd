import torch

def _add():
    a = torch.randn(32, 64, 32, 32); b = torch.randn(32, 64, 32, 32)
    return lambda: torch.add(a, b)

WORKLOADS = {"add-32x64x32x32": (_add, 32.0 * 64 * 32 * 32)}
