"""Writes tests/Crt.Tests/data/parity/gpt.safetensors: a PyTorch restatement of LlamaGen's c2i
Transformer (autoregressive/models/gpt.py: LabelEmbedder, RMSNorm, wqkv attention with 2D RoPE and the
zero RoPE row at the class position, SwiGLU FeedForward) at the gpt-t4 shape (8 layers, 8 heads,
dim 256, multiple_of 32) with vocabulary 64, 10 classes and 16 tokens per image (4x4 grid), dropouts
off. Weights are not stored: every parameter is filled by a formula that crt's test repeats
(see fill() below), so the fixture holds the batch, the logits, the loss, the RoPE table and, per
parameter, the gradient's first 32 values and its L2 norm.
Run: /usr/bin/python3 tools/parity/make_gpt.py"""
import math, os, sys
import torch
import torch.nn.functional as F
from torch import nn
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io as st

DIM, LAYERS, HEADS, MULT, VOCAB, CLASSES, BLOCK = 256, 8, 8, 32, 64, 10, 16


def find_multiple(n, k):
    return n if n % k == 0 else n + k - n % k


def rope_2d(grid, n_elem, base=10000, cls=1):
    half = n_elem // 2
    freqs = 1.0 / (base ** (torch.arange(0, half, 2)[: (half // 2)].float() / half))
    t = torch.arange(grid)
    freqs = torch.outer(t, freqs)
    grid_f = torch.cat([freqs[:, None, :].expand(-1, grid, -1), freqs[None, :, :].expand(grid, -1, -1)], dim=-1)
    cache = torch.stack([torch.cos(grid_f), torch.sin(grid_f)], dim=-1).flatten(0, 1)
    return torch.cat([torch.zeros(cls, n_elem // 2, 2), cache])


def apply_rope(x, fc):
    xs = x.float().reshape(*x.shape[:-1], -1, 2)
    fc = fc.view(1, xs.size(1), 1, xs.size(3), 2)
    out = torch.stack([xs[..., 0] * fc[..., 0] - xs[..., 1] * fc[..., 1],
                       xs[..., 1] * fc[..., 0] + xs[..., 0] * fc[..., 1]], dim=-1)
    return out.flatten(3).type_as(x)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__(); self.eps = eps; self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return (x.float() * torch.rsqrt(torch.mean(x.float() * x.float(), dim=-1, keepdim=True) + self.eps)).type_as(x) * self.weight


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.wqkv = nn.Linear(DIM, 3 * DIM, bias=False); self.wo = nn.Linear(DIM, DIM, bias=False)

    def forward(self, x, fc):
        b, t, _ = x.shape
        q, k, v = self.wqkv(x).split([DIM, DIM, DIM], dim=-1)
        q = apply_rope(q.view(b, t, HEADS, DIM // HEADS), fc)
        k = apply_rope(k.view(b, t, HEADS, DIM // HEADS), fc)
        v = v.view(b, t, HEADS, DIM // HEADS)
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))
        # torch 1.13 (Debian) has no F.scaled_dot_product_attention: the same math, written out
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
        o = torch.softmax(scores, dim=-1) @ v
        return self.wo(o.transpose(1, 2).contiguous().view(b, t, DIM))


class FeedForward(nn.Module):
    def __init__(self):
        super().__init__()
        hidden = find_multiple(int(2 * 4 * DIM / 3), MULT)
        self.w1 = nn.Linear(DIM, hidden, bias=False); self.w3 = nn.Linear(DIM, hidden, bias=False)
        self.w2 = nn.Linear(hidden, DIM, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = Attention(); self.feed_forward = FeedForward()
        self.attention_norm = RMSNorm(DIM); self.ffn_norm = RMSNorm(DIM)

    def forward(self, x, fc):
        h = x + self.attention(self.attention_norm(x), fc)
        return h + self.feed_forward(self.ffn_norm(h))


class LabelEmbedder(nn.Module):
    def __init__(self):
        super().__init__(); self.embedding_table = nn.Embedding(CLASSES + 1, DIM)


class Transformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.cls_embedding = LabelEmbedder()
        self.tok_embeddings = nn.Embedding(VOCAB, DIM)
        self.layers = nn.ModuleList([Block() for _ in range(LAYERS)])
        self.norm = RMSNorm(DIM)
        self.output = nn.Linear(DIM, VOCAB, bias=False)
        self.freqs_cis = rope_2d(int(BLOCK ** 0.5), DIM // HEADS)

    def forward(self, idx, cond_idx, targets):
        x = torch.cat([self.cls_embedding.embedding_table(cond_idx).unsqueeze(1), self.tok_embeddings(idx)], dim=1)
        fc = self.freqs_cis[: x.shape[1]]
        for layer in self.layers:
            x = layer(x, fc)
        logits = self.output(self.norm(x)).float()
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def fill(name_index, numel, is_norm):
    """Parameter j (in sorted-name order) gets scale·sin(0.37·i + 1.1·j) (+1 for norm weights)."""
    i = torch.arange(numel, dtype=torch.float64)
    v = torch.sin(0.37 * i + 1.1 * name_index)
    return (1.0 + 0.1 * v if is_norm else 0.05 * v).float()


def main():
    torch.manual_seed(0)
    model = Transformer()
    params = dict(model.named_parameters())
    for j, name in enumerate(sorted(params)):
        p = params[name]
        with torch.no_grad():
            p.copy_(fill(j, p.numel(), name.endswith("norm.weight")).view_as(p))

    B = 2
    grids = torch.randint(0, VOCAB, (B, BLOCK))
    classes = torch.tensor([3, CLASSES])  # a real class and the null class
    logits, loss = model(grids[:, :-1], classes, grids)
    loss.backward()

    out = {"grids": grids.to(torch.int64), "classes": classes.to(torch.int64), "logits": logits.detach(),
           "loss": loss.detach().reshape(1), "freqs_cis": model.freqs_cis}
    for name, p in params.items():
        g = p.grad.reshape(-1)
        out["grad_head." + name] = g[:32].clone()
        out["grad_norm." + name] = g.double().norm().float().reshape(1)

    # One sampling step as LlamaGen's sample() does it: CFG mix, temperature, top_k_top_p_filtering, softmax.
    def top_k_top_p_filtering(logits, top_k, top_p):
        if top_k > 0:
            logits = logits.masked_fill(logits < torch.topk(logits, top_k)[0][..., -1, None], float("-inf"))
        if top_p < 1.0:
            sorted_logits, sorted_indices = torch.sort(logits, descending=True)
            cumulative = torch.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1)
            remove = cumulative > top_p
            remove[..., 1:] = remove[..., :-1].clone()
            remove[..., 0] = 0
            logits = logits.masked_fill(remove.scatter(1, sorted_indices, remove), float("-inf"))
        return logits

    cond, uncond = torch.randn(3, VOCAB) * 2, torch.randn(3, VOCAB) * 2
    for name, (cfg, temp, k, p) in {"a": (2.0, 0.8, 20, 0.9), "b": (1.0, 1.0, 0, 0.5), "c": (4.0, 1.3, 5, 1.0)}.items():
        mixed = (uncond + cfg * (cond - uncond)) / max(temp, 1e-5)
        out["sample_probs_" + name] = F.softmax(top_k_top_p_filtering(mixed, k, p), dim=-1)
    out["sample_cond"], out["sample_uncond"] = cond, uncond

    path = os.path.join(here, "../../tests/Crt.Tests/data/parity/gpt.safetensors")
    st.save(path, out, metadata={"script": "tools/parity/make_gpt.py", "param_order": ",".join(sorted(params))})
    print("wrote", os.path.normpath(path), "loss", loss.item(), "params", sum(p.numel() for p in params.values()))


if __name__ == "__main__":
    main()
