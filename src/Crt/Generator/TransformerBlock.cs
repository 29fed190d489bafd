using Crt.Tensors;
using Crt.Tensors.Nn;

namespace Crt.Generator;

/// <summary>
/// LlamaGen's Attention: fused wqkv projection (no bias), 2D RoPE on queries and keys, causal scaled
/// dot-product attention, output projection wo, residual dropout. With a <see cref="KvCache"/> the
/// new keys and values are appended and the queries attend over everything cached so far.
/// </summary>
public sealed class Attention : Module
{
    public int Dim { get; }
    public int Heads { get; }
    public int HeadDim => Dim / Heads;
    public Linear Wqkv { get; }
    public Linear Wo { get; }
    private readonly Dropout _residDropout;

    public Attention(int dim, int heads, float residDropout, Rng rng)
    {
        Dim = dim;
        Heads = heads;
        Wqkv = RegisterModule("wqkv", new Linear(dim, 3 * dim, bias: false, rng: rng));
        Wo = RegisterModule("wo", new Linear(dim, dim, bias: false, rng: rng));
        _residDropout = RegisterModule("resid_dropout", new Dropout(residDropout, rng));
    }

    /// <param name="x">[B, T, dim]</param>
    /// <param name="freqs">RoPE rows for these T positions, [T, headDim/2, 2].</param>
    public Tensor Forward(Tensor x, Tensor freqs, KvCache? cache = null)
    {
        int b = x.Shape[0], t = x.Shape[1];
        var qkv = Wqkv.Forward(x);
        var q = Ops.Reshape(Ops.Slice(qkv, -1, 0, Dim), b, t, Heads, HeadDim);
        var k = Ops.Reshape(Ops.Slice(qkv, -1, Dim, 2 * Dim), b, t, Heads, HeadDim);
        var v = Ops.Reshape(Ops.Slice(qkv, -1, 2 * Dim, 3 * Dim), b, t, Heads, HeadDim);
        q = Ops.Transpose(Ops.ApplyRotaryEmbedding(q, freqs), 1, 2);
        k = Ops.Transpose(Ops.ApplyRotaryEmbedding(k, freqs), 1, 2);
        v = Ops.Transpose(v, 1, 2);
        var o = cache is null ? Ops.ScaledDotProductAttention(q, k, v, causal: true) : cache.AppendAndAttend(q, k, v);
        o = Ops.Reshape(Ops.Transpose(o, 1, 2), b, t, Dim);
        return _residDropout.Forward(Wo.Forward(o));
    }
}

/// <summary>SwiGLU: w2(silu(w1 x) · w3 x), then dropout (LlamaGen's FeedForward).</summary>
public sealed class FeedForward : Module
{
    public Linear W1 { get; }
    public Linear W2 { get; }
    public Linear W3 { get; }
    private readonly Dropout _dropout;

    public FeedForward(int dim, int hidden, float dropout, Rng rng)
    {
        W1 = RegisterModule("w1", new Linear(dim, hidden, bias: false, rng: rng));
        W3 = RegisterModule("w3", new Linear(dim, hidden, bias: false, rng: rng));
        W2 = RegisterModule("w2", new Linear(hidden, dim, bias: false, rng: rng));
        _dropout = RegisterModule("ffn_dropout", new Dropout(dropout, rng));
    }

    public Tensor Forward(Tensor x) => _dropout.Forward(W2.Forward(Ops.Mul(Ops.Silu(W1.Forward(x)), W3.Forward(x))));
}

/// <summary>Pre-norm block: h = x + attn(norm(x)); out = h + ffn(norm(h)).</summary>
public sealed class TransformerBlock : Module
{
    public Attention Attention { get; }
    public FeedForward FeedForward { get; }
    public RMSNorm AttentionNorm { get; }
    public RMSNorm FfnNorm { get; }

    public TransformerBlock(int dim, int heads, int ffnHidden, float normEps, float residDropout, float ffnDropout, Rng rng)
    {
        Attention = RegisterModule("attention", new Attention(dim, heads, residDropout, rng));
        FeedForward = RegisterModule("feed_forward", new FeedForward(dim, ffnHidden, ffnDropout, rng));
        AttentionNorm = RegisterModule("attention_norm", new RMSNorm(dim, normEps));
        FfnNorm = RegisterModule("ffn_norm", new RMSNorm(dim, normEps));
    }

    public Tensor Forward(Tensor x, Tensor freqs, KvCache? cache = null)
    {
        var h = Ops.Add(x, Attention.Forward(AttentionNorm.Forward(x), freqs, cache));
        return Ops.Add(h, FeedForward.Forward(FfnNorm.Forward(h)));
    }
}

/// <summary>
/// Keys and values of one attention layer for the positions decoded so far, [B, H, capacity, D]
/// storage that outlives the per-step tensor scopes (create it outside them). Attention reads it in place (no per-step gather of
/// the cache). Inference only (no gradients flow through it).
/// </summary>
public sealed class KvCache
{
    private readonly Tensor _k, _v;
    private readonly int _batch, _heads, _capacity, _headDim;

    public int Length { get; private set; }

    public KvCache(int batch, int heads, int capacity, int headDim) : this(Device.Cpu, batch, heads, capacity, headDim) { }

    /// <summary>A cache on <paramref name="device"/> (the model's).</summary>
    public KvCache(Device device, int batch, int heads, int capacity, int headDim)
    {
        (_batch, _heads, _capacity, _headDim) = (batch, heads, capacity, headDim);
        // Uninitialised: only the rows written by Append are ever read. Inside a TensorScope the storage is pooled
        // (the cache must not outlive that scope), so repeated sampling reuses it instead of faulting in fresh pages.
        _k = Tensor.Empty(device, batch, heads, capacity, headDim);
        _v = Tensor.Empty(device, batch, heads, capacity, headDim);
    }

    public void Reset() => Length = 0;

    /// <summary>
    /// Appends k, v [B, H, S, D] and returns causal attention of q [B, H, S, D] (the S newest positions) over
    /// every cached position, [B, H, S, D].
    /// </summary>
    public Tensor AppendAndAttend(Tensor q, Tensor k, Tensor v)
    {
        Append(k, v);
        return Ops.ScaledDotProductAttentionPrefix(q, _k, _v, Length, causal: true);
    }

    /// <summary>Copies k, v [B, H, S, D] into the next S positions.</summary>
    public void Append(Tensor k, Tensor v)
    {
        int s = k.Shape[2];
        if (k.Rank != 4 || k.Shape[0] != _batch || k.Shape[1] != _heads || k.Shape[3] != _headDim || !v.Shape.SequenceEqual(k.Shape))
            throw new ArgumentException($"kv cache: keys {ShapeUtil.Format(k.Shape)} and values {ShapeUtil.Format(v.Shape)} do not match the cache's [{_batch}, {_heads}, *, {_headDim}]");
        if (Length + s > _capacity)
            throw new InvalidOperationException($"kv cache: {Length} cached + {s} new positions exceed its capacity of {_capacity}");
        // Each (batch, head) row of the stores is [capacity, D]; the new positions go to [Length, Length + s).
        var kernels = Device.Common("kv_cache", k, v, _k).Kernels;
        kernels.CopyIntoSlice(k, _batch * _heads, _capacity, _headDim, Length, s, _k);
        kernels.CopyIntoSlice(v, _batch * _heads, _capacity, _headDim, Length, s, _v);
        Length += s;
    }
}
