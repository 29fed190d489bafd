"""Writes tests/Crt.Tensors.Tests/data/parity/attention.safetensors (run: /usr/bin/python3 tools/parity/make_attention.py).

LlamaGen's attention path on a tiny case: x{q,k,v} [B=2, T=17, H=4, D=16] in LlamaGen's [B, T, H, D] layout,
2D RoPE with the table of precompute_freqs_cis_2d(grid 4, head dim 16, base 10000, 1 class token) applied to
q and k, transpose to [B, H, T, D], causal scaled dot-product attention, backward of a fixed upstream gradient.
Stored: the table (float32, computed exactly as LlamaGen does), the pre-RoPE inputs, the attention output
[B, H, T, D], grad_out, and the gradients of the pre-RoPE inputs.

The reference runs in float64 (inputs are float32 values) so the fixture carries no float32 rounding of its
own. torch >= 2.0 uses F.scaled_dot_product_attention(is_causal=True); older torch (Debian's 1.13) uses the
identical math composition softmax(q·kᵀ/√D + causal mask)·v.
"""
import os, sys
import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io as st

OUT = os.path.join(here, "../../tests/Crt.Tensors.Tests/data/parity/attention.safetensors")


def rope_table_2d(grid, n_elem, base=10000, cls_token_num=1):
    """LlamaGen's precompute_freqs_cis_2d (float32, as written there)."""
    half = n_elem // 2
    freqs = 1.0 / (base ** (torch.arange(0, half, 2)[: (half // 2)].float() / half))
    t = torch.arange(grid)
    freqs = torch.outer(t, freqs)
    grid_freqs = torch.cat([freqs[:, None, :].expand(-1, grid, -1), freqs[None, :, :].expand(grid, -1, -1)], dim=-1)
    cache = torch.stack([torch.cos(grid_freqs), torch.sin(grid_freqs)], dim=-1).flatten(0, 1)
    return torch.cat([torch.zeros(cls_token_num, n_elem // 2, 2), cache])


def apply_rope(x, table):
    """LlamaGen's apply_rotary_emb: adjacent pairs rotate by (cos, sin) of table[t, i]."""
    xs = x.reshape(*x.shape[:-1], -1, 2)
    f = table.view(1, xs.size(1), 1, xs.size(3), 2)
    out = torch.stack([xs[..., 0] * f[..., 0] - xs[..., 1] * f[..., 1],
                       xs[..., 1] * f[..., 0] + xs[..., 0] * f[..., 1]], dim=-1)
    return out.flatten(3)


def causal_sdpa(q, k, v):
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    d = q.size(-1)
    s = q @ k.transpose(-2, -1) / (d ** 0.5)
    mask = torch.ones(q.size(-2), k.size(-2), dtype=torch.bool).tril()
    s = s.masked_fill(~mask, float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def main():
    torch.manual_seed(1234)
    B, T, H, D, grid = 2, 17, 4, 16, 4
    table = rope_table_2d(grid, D, 10000, 1)
    assert table.shape == (T, D // 2, 2)
    xq, xk, xv = (torch.randn(B, T, H, D) for _ in range(3))
    grad_out = torch.randn(B, H, T, D)
    leaves = [t.double().requires_grad_() for t in (xq, xk, xv)]
    tab = table.double()
    q = apply_rope(leaves[0], tab).transpose(1, 2)
    k = apply_rope(leaves[1], tab).transpose(1, 2)
    v = leaves[2].transpose(1, 2)
    out = causal_sdpa(q, k, v)
    out.backward(grad_out.double())
    st.save(OUT, {
        "freqs_cis": table, "xq": xq, "xk": xk, "xv": xv, "grad_out": grad_out,
        "out": out.detach().float(),
        "grad_xq": leaves[0].grad.float(), "grad_xk": leaves[1].grad.float(), "grad_xv": leaves[2].grad.float(),
    }, metadata={"torch": torch.__version__, "script": "tools/parity/make_attention.py"})
    print(OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
