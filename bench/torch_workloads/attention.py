import functools

import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=None)
def _causal_mask(tq, tk):
    return torch.ones(tq, tk, dtype=torch.bool).tril()


def _causal_sdpa(q, k, v):
    if hasattr(F, "scaled_dot_product_attention"):  # torch >= 2.0 (fused CPU flash kernel)
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    # Debian's torch 1.13 has no SDPA: the math composition it would run (as LlamaGen's fallback does)
    s = q @ k.transpose(-2, -1) * (q.size(-1) ** -0.5)
    mask = _causal_mask(q.size(-2), k.size(-2))
    return torch.softmax(s.masked_fill(~mask, float("-inf")), dim=-1) @ v


def _attention_fwdbwd(b, h, t, d):
    def setup():
        torch.manual_seed(0)
        q, k, v = (torch.randn(b, h, t, d, requires_grad=True) for _ in range(3))
        g = torch.randn(b, h, t, d)

        def run():  # gradients accumulate into .grad (as on the crt side)
            _causal_sdpa(q, k, v).backward(g)
        return run
    return setup


def _cross_entropy_fwdbwd():
    torch.manual_seed(0)
    x = torch.randn(2048, 512, requires_grad=True)
    t = torch.randint(0, 512, (2048,))

    def run():  # gradient accumulates into x.grad (as on the crt side)
        F.cross_entropy(x, t).backward()
    return run


WORKLOADS = {
    "attention-fwdbwd-32x8x65x32": (_attention_fwdbwd(32, 8, 65, 32), 7.0 * 2 * 32 * 8 * 65 * 65 * 32),
    "attention-fwdbwd-4x12x257x64": (_attention_fwdbwd(4, 12, 257, 64), 7.0 * 2 * 4 * 12 * 257 * 257 * 64),
    "cross-entropy-fwdbwd-2048x512": (_cross_entropy_fwdbwd, 2048.0 * 512 * 6),
}
