"""The PyTorch models the whole-workload twins run: crt's GPT (LlamaGen's c2i Transformer) and VQ tokenizer
(LlamaGen's VQModel) at any preset's shape.

The building blocks come from the parity scripts (tools/parity/make_gpt.py, make_vq.py), which pin them to
crt's outputs and gradients at one small shape; here they are assembled at a preset's shape, with what the
benchmarks need and the parity scripts leave out: the dropouts (token, residual, FFN, class), a KV cache
and sampling for the GPT, and eval-mode quantization for the tokenizer. Parameter names and init follow
crt (= LlamaGen), so the models match crt's layer for layer.
"""
import functools, math, os, sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tools/parity"))
from make_gpt import rope_2d, apply_rope, find_multiple, RMSNorm  # noqa: E402  (LlamaGen restatements)
from make_vq import Normalize, swish, ResnetBlock, AttnBlock, Downsample, Upsample  # noqa: E402


# ---- GPT ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GptConfig:
    """crt's GptConfig (src/Crt/Generator/GptConfig.cs), defaults included."""
    layers: int
    heads: int
    dim: int
    multiple_of: int = 256
    vocab_size: int = 16384
    num_classes: int = 1000
    block_size: int = 256
    norm_eps: float = 1e-5
    token_dropout: float = 0.1
    resid_dropout: float = 0.1
    ffn_dropout: float = 0.1
    class_dropout: float = 0.1

    @property
    def head_dim(self):
        return self.dim // self.heads

    @property
    def ffn_hidden(self):
        return find_multiple(int(2 * 4 * self.dim / 3), self.multiple_of)

    def parameter_count(self):  # GptConfig.ParameterCount
        d = self.dim
        per_layer = d * 3 * d + d * d + 3 * d * self.ffn_hidden + 2 * d
        return self.layers * per_layer + (self.num_classes + 1) * d + 2 * self.vocab_size * d + d


GPT_PRESETS = {
    "gpt-t2": dict(layers=4, heads=4, dim=128, multiple_of=32),
    "gpt-t4": dict(layers=8, heads=8, dim=256, multiple_of=32),
    "gpt-b": dict(layers=12, heads=12, dim=768),
}


def gpt_config(preset, **overrides):
    return GptConfig(**{**GPT_PRESETS[preset], **overrides})


@functools.lru_cache(maxsize=None)
def _causal_mask(tq, tk, device="cpu"):
    """True where query i (the last tq of tk positions) may not look: keys after its own position."""
    return torch.ones(tq, tk, dtype=torch.bool, device=device).triu(tk - tq + 1)


def causal_attention(q, k, v):
    """softmax(QKᵀ/√d)·V with the causal mask; tq < tk (KV-cache decoding) aligns the queries at the end."""
    tq, tk = q.size(-2), k.size(-2)
    if hasattr(F, "scaled_dot_product_attention") and (tq == tk or tq == 1):  # torch >= 2.0
        return F.scaled_dot_product_attention(q, k, v, is_causal=tq > 1)
    # Debian's torch 1.13 has no SDPA: the math composition (LlamaGen's fallback, tools/parity/make_gpt.py)
    s = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))
    if tq > 1:
        s = s.masked_fill(_causal_mask(tq, tk, q.device), float("-inf"))
    return torch.softmax(s, dim=-1) @ v


class KVCache:
    """Keys and values of one layer, [B, H, capacity, D]; append returns views of what is cached so far."""

    def __init__(self, batch, heads, capacity, head_dim, device="cpu"):
        self.k = torch.empty(batch, heads, capacity, head_dim, device=device)
        self.v = torch.empty(batch, heads, capacity, head_dim, device=device)
        self.length = 0

    def append(self, k, v):
        s = k.size(2)
        self.k[:, :, self.length:self.length + s] = k
        self.v[:, :, self.length:self.length + s] = v
        self.length += s
        return self.k[:, :, :self.length], self.v[:, :, :self.length]


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dim, self.heads = c.dim, c.heads
        self.wqkv = nn.Linear(c.dim, 3 * c.dim, bias=False)
        self.wo = nn.Linear(c.dim, c.dim, bias=False)
        self.resid_dropout = nn.Dropout(c.resid_dropout)

    def forward(self, x, fc, cache=None):
        b, t, _ = x.shape
        hd = self.dim // self.heads
        q, k, v = self.wqkv(x).split([self.dim] * 3, dim=-1)
        q = apply_rope(q.view(b, t, self.heads, hd), fc).transpose(1, 2)
        k = apply_rope(k.view(b, t, self.heads, hd), fc).transpose(1, 2)
        v = v.view(b, t, self.heads, hd).transpose(1, 2)
        if cache is not None:
            k, v = cache.append(k, v)
        o = causal_attention(q, k, v)
        return self.resid_dropout(self.wo(o.transpose(1, 2).contiguous().view(b, t, self.dim)))


class FeedForward(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.w1 = nn.Linear(c.dim, c.ffn_hidden, bias=False)
        self.w3 = nn.Linear(c.dim, c.ffn_hidden, bias=False)
        self.w2 = nn.Linear(c.ffn_hidden, c.dim, bias=False)
        self.ffn_dropout = nn.Dropout(c.ffn_dropout)

    def forward(self, x):
        return self.ffn_dropout(self.w2(F.silu(self.w1(x)) * self.w3(x)))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention, self.feed_forward = Attention(c), FeedForward(c)
        self.attention_norm, self.ffn_norm = RMSNorm(c.dim, c.norm_eps), RMSNorm(c.dim, c.norm_eps)

    def forward(self, x, fc, cache=None):
        h = x + self.attention(self.attention_norm(x), fc, cache)
        return h + self.feed_forward(self.ffn_norm(h))


class LabelEmbedder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embedding_table = nn.Embedding(c.num_classes + 1, c.dim)


class Transformer(nn.Module):
    """crt's Gpt (src/Crt/Generator/Gpt.cs): [class embedding, z_0 … z_{N−2}] → logits for z_0 … z_{N−1}."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.cls_embedding = LabelEmbedder(c)
        self.tok_embeddings = nn.Embedding(c.vocab_size, c.dim)
        self.tok_dropout = nn.Dropout(c.token_dropout)
        self.layers = nn.ModuleList([Block(c) for _ in range(c.layers)])
        self.norm = RMSNorm(c.dim, c.norm_eps)
        self.output = nn.Linear(c.dim, c.vocab_size, bias=False)
        self.freqs_cis = rope_2d(int(round(c.block_size ** 0.5)), c.head_dim)
        for m in self.modules():  # LlamaGen's initialize_weights: N(0, 0.02), output zeroed
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
        nn.init.zeros_(self.output.weight)

    @property
    def null_class(self):
        return self.config.num_classes

    def forward(self, idx, cond_idx):
        if self.training and self.config.class_dropout > 0:  # label dropout (LlamaGen's token_drop)
            drop = torch.rand(cond_idx.shape[0]) < self.config.class_dropout
            cond_idx = torch.where(drop, torch.full_like(cond_idx, self.null_class), cond_idx)
        x = torch.cat([self.cls_embedding.embedding_table(cond_idx).unsqueeze(1), self.tok_embeddings(idx)], dim=1)
        x = self.tok_dropout(x)
        fc = self.freqs_cis[: x.shape[1]]
        for layer in self.layers:
            x = layer(x, fc)
        return self.output(self.norm(x))

    def loss(self, classes, grids):
        """Mean next-token cross-entropy of full grids [B, N] (crt's Gpt.Loss)."""
        logits = self(grids[:, :-1], classes)
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), grids.reshape(-1))

    def forward_cached(self, emb, start, caches):
        fc = self.freqs_cis[start: start + emb.shape[1]]
        x = emb
        for layer, cache in zip(self.layers, caches):
            x = layer(x, fc, cache)
        return self.output(self.norm(x))


def top_k_top_p_filtering(logits, top_k=0, top_p=1.0):
    """LlamaGen's filter (tools/parity/make_gpt.py); crt's defaults (0, 1.0) leave the logits as they are."""
    if top_k > 0:
        logits = logits.masked_fill(logits < torch.topk(logits, top_k)[0][..., -1, None], float("-inf"))
    if top_p < 1.0:
        sorted_logits, sorted_indices = torch.sort(logits, descending=True)
        remove = torch.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1) > top_p
        remove[..., 1:] = remove[..., :-1].clone()
        remove[..., 0] = 0
        logits = logits.masked_fill(remove.scatter(1, sorted_indices, remove), float("-inf"))
    return logits


@torch.no_grad()
def generate(model, classes, cfg_scale=1.5, temperature=1.0, top_k=0, top_p=1.0, generator=None):
    """crt's Sampler.Generate: conditional and null-class rows in one batch, a KV cache per layer, one
    incremental forward per token; returns token grids [B, N]."""
    c = model.config
    was_training = model.training
    model.eval()
    b, n = classes.shape[0], c.block_size
    guided = cfg_scale != 1.0
    labels = torch.cat([classes, torch.full_like(classes, model.null_class)]) if guided else classes
    rows = labels.shape[0]
    caches = [KVCache(rows, c.heads, n, c.head_dim, classes.device) for _ in range(c.layers)]
    out = torch.empty(b, n, dtype=torch.long, device=classes.device)
    emb = model.cls_embedding.embedding_table(labels).unsqueeze(1)
    for t in range(n):
        logits = model.forward_cached(emb, t, caches)[:, -1]
        cond, uncond = (logits[:b], logits[b:]) if guided else (logits, logits)
        mixed = (uncond + cfg_scale * (cond - uncond)) / max(temperature, 1e-5)
        probs = F.softmax(top_k_top_p_filtering(mixed, top_k, top_p), dim=-1)
        z = torch.multinomial(probs, 1, generator=generator)[:, 0]
        out[:, t] = z
        emb = model.tok_embeddings(torch.cat([z, z]) if guided else z).unsqueeze(1)
    model.train(was_training)
    return out


# ---- VQ tokenizer ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VqConfig:
    """crt's VqConfig (src/Crt/Tokenizer/VqConfig.cs); the defaults are vq-f16 = LlamaGen's VQ-16."""
    in_channels: int = 3
    image_size: int = 256
    channels: int = 128
    ch_mult: tuple = (1, 1, 2, 2, 4)
    num_res_blocks: int = 2
    z_channels: int = 256
    code_dim: int = 8
    codebook_size: int = 16384


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        ch, mult = c.channels, c.ch_mult
        self.conv_in = nn.Conv2d(c.in_channels, ch, 3, 1, 1)
        in_mult = (1,) + tuple(mult)
        self.conv_blocks = nn.ModuleList()
        for lvl in range(len(mult)):
            blk = nn.Module(); blk.res = nn.ModuleList(); blk.attn = nn.ModuleList()
            bin_, bout = ch * in_mult[lvl], ch * mult[lvl]
            for _ in range(c.num_res_blocks):
                blk.res.append(ResnetBlock(bin_, bout)); bin_ = bout
                if lvl == len(mult) - 1:
                    blk.attn.append(AttnBlock(bin_))
            if lvl != len(mult) - 1:
                blk.downsample = Downsample(bin_)
            self.conv_blocks.append(blk)
        self.mid = nn.ModuleList([ResnetBlock(bin_, bin_), AttnBlock(bin_), ResnetBlock(bin_, bin_)])
        self.norm_out = Normalize(bin_); self.conv_out = nn.Conv2d(bin_, c.z_channels, 3, 1, 1)

    def forward(self, x):
        h = self.conv_in(x)
        for lvl, blk in enumerate(self.conv_blocks):
            for i in range(self.c.num_res_blocks):
                h = blk.res[i](h)
                if len(blk.attn) > 0:
                    h = blk.attn[i](h)
            if lvl != len(self.c.ch_mult) - 1:
                h = blk.downsample(h)
        for m in self.mid:
            h = m(h)
        return self.conv_out(swish(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        ch, mult = c.channels, c.ch_mult
        bin_ = ch * mult[-1]
        self.conv_in = nn.Conv2d(c.z_channels, bin_, 3, 1, 1)
        self.mid = nn.ModuleList([ResnetBlock(bin_, bin_), AttnBlock(bin_), ResnetBlock(bin_, bin_)])
        self.conv_blocks = nn.ModuleList()
        for lvl in reversed(range(len(mult))):
            blk = nn.Module(); blk.res = nn.ModuleList(); blk.attn = nn.ModuleList()
            bout = ch * mult[lvl]
            for _ in range(c.num_res_blocks + 1):
                blk.res.append(ResnetBlock(bin_, bout)); bin_ = bout
                if lvl == len(mult) - 1:
                    blk.attn.append(AttnBlock(bin_))
            if lvl != 0:
                blk.upsample = Upsample(bin_)
            self.conv_blocks.append(blk)
        self.norm_out = Normalize(bin_); self.conv_out = nn.Conv2d(bin_, c.in_channels, 3, 1, 1)

    def forward(self, z):
        h = self.conv_in(z)
        for m in self.mid:
            h = m(h)
        for lvl, blk in enumerate(self.conv_blocks):
            for i in range(self.c.num_res_blocks + 1):
                h = blk.res[i](h)
                if len(blk.attn) > 0:
                    h = blk.attn[i](h)
            if lvl != len(self.c.ch_mult) - 1:
                h = blk.upsample(h)
        return self.conv_out(swish(self.norm_out(h)))


class VectorQuantizer(nn.Module):
    """LlamaGen's VectorQuantizer with l2_norm, in eval mode as crt runs it (VectorQuantizer.Forward, not training)."""

    def __init__(self, c):
        super().__init__()
        self.code_dim = c.code_dim
        self.embedding = nn.Embedding(c.codebook_size, c.code_dim)
        with torch.no_grad():
            self.embedding.weight.uniform_(-1.0 / c.codebook_size, 1.0 / c.codebook_size)
            self.embedding.weight.copy_(F.normalize(self.embedding.weight, p=2, dim=-1))

    def forward(self, z):
        """Latents [B, C, H, W] → straight-through quantized latents [B, C, H, W], code per position [B·H·W]."""
        b, c, h, w = z.shape
        zn = F.normalize(z.permute(0, 2, 3, 1).reshape(-1, c), p=2, dim=-1)
        codebook = F.normalize(self.embedding.weight, p=2, dim=-1)
        idx = torch.argmax(zn @ codebook.t(), dim=1)  # nearest code = largest cosine (unit vectors)
        zq = codebook[idx]
        st = zn + (zq - zn).detach()
        return st.view(b, h, w, c).permute(0, 3, 1, 2), idx


class VQModel(nn.Module):
    def __init__(self, c=VqConfig()):
        super().__init__()
        self.encoder, self.decoder, self.quantize = Encoder(c), Decoder(c), VectorQuantizer(c)
        self.quant_conv = nn.Conv2d(c.z_channels, c.code_dim, 1)
        self.post_quant_conv = nn.Conv2d(c.code_dim, c.z_channels, 1)

    def encode(self, x):
        return self.quantize(self.quant_conv(self.encoder(x)))

    def decode(self, quantized):
        return self.decoder(self.post_quant_conv(quantized))
