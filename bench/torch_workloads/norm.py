import torch
import torch.nn.functional as F


def _groupnorm_swish():
    torch.manual_seed(0)
    x = torch.randn(32, 64, 32, 32, requires_grad=True)
    w = (1 + 0.1 * torch.randn(64)).requires_grad_()
    b = (0.1 * torch.randn(64)).requires_grad_()
    g = torch.randn(32, 64, 32, 32)
    # gradients accumulate into x.grad, w.grad, b.grad (as on the crt side)
    return lambda: F.silu(F.group_norm(x, 32, w, b, 1e-6)).backward(g)


def _rmsnorm():
    torch.manual_seed(0)
    x = torch.randn(2048, 768, requires_grad=True)
    w = (1 + 0.1 * torch.randn(768)).requires_grad_()
    g = torch.randn(2048, 768)
    # LlamaGen's RMSNorm: self._norm(x.float()).type_as(x) * self.weight
    return lambda: (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w).backward(g)


def _layernorm():
    torch.manual_seed(0)
    x = torch.randn(2048, 768, requires_grad=True)
    w = (1 + 0.1 * torch.randn(768)).requires_grad_()
    b = (0.1 * torch.randn(768)).requires_grad_()
    g = torch.randn(2048, 768)
    return lambda: F.layer_norm(x, (768,), w, b, 1e-5).backward(g)


WORKLOADS = {
    "groupnorm-swish-fwdbwd-32x64x32x32": (_groupnorm_swish, 0.0),
    "rmsnorm-fwdbwd-2048x768": (_rmsnorm, 0.0),
    "layernorm-fwdbwd-2048x768": (_layernorm, 0.0),
}
