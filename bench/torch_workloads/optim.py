import torch


def _adamw_step():
    torch.manual_seed(0)
    ps = []
    for _ in range(10):
        p = torch.nn.Parameter(torch.randn(1000, 1000))
        p.grad = torch.randn(1000, 1000) * 0.01
        ps.append(p)
    opt = torch.optim.AdamW(ps, lr=1e-3, weight_decay=0.1)  # default implementation (foreach=None)
    return opt.step


WORKLOADS = {"adamw-step-10M": (_adamw_step, 13.0 * 10_000_000)}
