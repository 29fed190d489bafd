import torch
import torch.nn.functional as F


def _conv3x3_fwdbwd(n, c, hw):
    def setup():
        torch.manual_seed(0)
        x = torch.randn(n, c, hw, hw, requires_grad=True)
        w = (torch.randn(c, c, 3, 3) / (c * 9) ** 0.5).requires_grad_()
        b = torch.randn(c, requires_grad=True)
        g = torch.randn(n, c, hw, hw)

        def run():
            x.grad = None; w.grad = None; b.grad = None
            y = F.conv2d(x, w, b, padding=1)
            y.backward(g)
        return run
    return setup, 3.0 * 2 * n * c * c * 9 * hw * hw


WORKLOADS = {
    "conv3x3-fwdbwd-32x64x32x32": _conv3x3_fwdbwd(32, 64, 32),
    "conv3x3-fwdbwd-32x128x16x16": _conv3x3_fwdbwd(32, 128, 16),
}
