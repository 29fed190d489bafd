using Crt.Tensors.Autograd;

namespace Crt.Tensors;

/// <summary>Fused scaled dot-product attention and LlamaGen's rotary position embedding (1D op, 2D table).</summary>
public static partial class Ops
{
    /// <summary>
    /// softmax(q·kᵀ·scale [+ causal mask])·v, fused (scores never materialised beyond one block).
    /// q [B, H, Tq, D], k and v [B, H, Tk, D]; scale defaults to 1/√D. With <paramref name="causal"/>
    /// and Tq &lt; Tk the queries are the last Tq positions (KV-cache decoding): query i attends keys
    /// j ≤ Tk − Tq + i. (PyTorch's is_causal aligns the mask top-left instead; the two agree for Tq = Tk.)
    /// </summary>
    public static Tensor ScaledDotProductAttention(Tensor q, Tensor k, Tensor v, bool causal, float? scale = null)
    {
        const string name = "scaled_dot_product_attention";
        var kt = Device.KernelsOf(name, q, k, v);
        CheckAttentionShapes(name, q, k, v, causal);
        int b = q.Shape[0], h = q.Shape[1], tq = q.Shape[2], d = q.Shape[3], tk = k.Shape[2];
        float s = scale ?? 1f / MathF.Sqrt(d);
        int bh = b * h;
        var y = q.EmptyLike();
        var lse = Tensor.Empty(q.Device, b, h, tq);
        kt.Attention(q, k, v, y, lse, bh, tq, tk, d, causal, s);
        FlopCounter.Add(4.0 * bh * tq * tk * d);
        return Tensor.Record(name, y, new[] { q, k, v }, g =>
        {
            var dq = q.EmptyLike(); var dk = k.EmptyLike(); var dv = v.EmptyLike();
            kt.AttentionBackward(q, k, v, y, lse, g, dq, dk, dv, bh, tq, tk, d, causal, s);
            q.AccumulateGrad(dq);
            k.AccumulateGrad(dk);
            v.AccumulateGrad(dv);
        });
    }

    /// <summary>
    /// Attention of q [B, H, Tq, D] over the first <paramref name="length"/> positions of key and value stores
    /// [B, H, capacity, D] (a KV cache), read in place: no gathered copy of the cache, and for a few queries per
    /// head (decoding) no transposed one either. Causal masking as in <see cref="ScaledDotProductAttention"/>
    /// (the queries are the last Tq of the length positions). Inference only: it records no gradient, and
    /// throws when gradients are enabled and an input requires one.
    /// </summary>
    public static Tensor ScaledDotProductAttentionPrefix(Tensor q, Tensor kStore, Tensor vStore, int length, bool causal, float? scale = null)
    {
        const string name = "scaled_dot_product_attention_prefix";
        var kt = Device.KernelsOf(name, q, kStore, vStore);
        if (kStore.Rank == 4 && (length < 1 || length > kStore.Shape[2]))
            throw new ArgumentException($"{name}: length {length} is outside 1..{kStore.Shape[2]} (the stores' capacity)");
        if (GradMode.Enabled && (q.RequiresGrad || kStore.RequiresGrad || vStore.RequiresGrad))
            throw new InvalidOperationException($"{name}: inference only (no backward); run it under Tensor.NoGrad()");
        CheckAttentionShapes(name, q, kStore, vStore, causal, length);
        int b = q.Shape[0], h = q.Shape[1], tq = q.Shape[2], d = q.Shape[3], capacity = kStore.Shape[2];
        float s = scale ?? 1f / MathF.Sqrt(d);
        int bh = b * h;
        var y = q.EmptyLike();
        kt.AttentionPrefix(q, kStore, vStore, y, bh, tq, length, d, capacity, causal, s);
        FlopCounter.Add(4.0 * bh * tq * length * d);
        return y;
    }

    /// <summary>Shapes of q [B, H, Tq, D] and k, v [B, H, Tk, D] (Tk = <paramref name="keys"/> when given: a prefix of them).</summary>
    private static void CheckAttentionShapes(string name, Tensor q, Tensor k, Tensor v, bool causal, int? keys = null)
    {
        string Shapes() => $"q {ShapeUtil.Format(q.Shape)}, k {ShapeUtil.Format(k.Shape)}, v {ShapeUtil.Format(v.Shape)}";
        if (q.Rank != 4 || k.Rank != 4 || v.Rank != 4)
            throw new ArgumentException($"{name}: q, k, v must be [B, H, T, D]; got {Shapes()}");
        int b = q.Shape[0], h = q.Shape[1], tq = q.Shape[2], d = q.Shape[3], tk = keys ?? k.Shape[2];
        if (k.Shape[0] != b || k.Shape[1] != h || v.Shape[0] != b || v.Shape[1] != h)
            throw new ArgumentException($"{name}: batch and head dimensions differ: {Shapes()}");
        if (k.Shape[3] != d || v.Shape[3] != d)
            throw new ArgumentException($"{name}: head dimensions differ (q, k and v must share D): {Shapes()}");
        if (v.Shape[2] != k.Shape[2])
            throw new ArgumentException($"{name}: k and v have different lengths: {Shapes()}");
        if (tk == 0)
            throw new ArgumentException($"{name}: no keys to attend to: {Shapes()}");
        if (d == 0)
            throw new ArgumentException($"{name}: head dimension is 0: {Shapes()}");
        if (causal && tq > tk)
            throw new ArgumentException($"{name}: causal attention needs Tq ≤ Tk (queries are the last Tq of the {tk} key positions): {Shapes()}");
    }

    /// <summary>
    /// LlamaGen's apply_rotary_emb: x [B, T, H, D], freqsCis [T, D/2, 2] holding (cos, sin); each adjacent
    /// pair (x[2i], x[2i+1]) at position t rotates by the angle of freqsCis[t, i]. The backward rotates the
    /// gradient by the negative angle. The table is a constant: no gradient flows into it.
    /// </summary>
    public static Tensor ApplyRotaryEmbedding(Tensor x, Tensor freqsCis)
    {
        const string name = "apply_rotary_emb";
        var k = Device.KernelsOf(name, x, freqsCis);
        if (x.Rank != 4)
            throw new ArgumentException($"{name}: x must be [B, T, H, D], got {ShapeUtil.Format(x.Shape)}");
        int b = x.Shape[0], t = x.Shape[1], h = x.Shape[2], d = x.Shape[3];
        if (d % 2 != 0)
            throw new ArgumentException($"{name}: head dimension {d} of x {ShapeUtil.Format(x.Shape)} is odd (elements rotate in pairs)");
        if (freqsCis.Rank != 3 || freqsCis.Shape[0] != t || freqsCis.Shape[1] != d / 2 || freqsCis.Shape[2] != 2)
            throw new ArgumentException($"{name}: freqsCis {ShapeUtil.Format(freqsCis.Shape)} must be [T, D/2, 2] = [{t},{d / 2},2] for x {ShapeUtil.Format(x.Shape)}");
        var y = x.EmptyLike();
        k.Rotary(x, freqsCis, y, b, t, h, d, inverse: false);
        return Tensor.Record(name, y, new[] { x }, g =>
        {
            var dx = x.EmptyLike();
            k.Rotary(g, freqsCis, dx, b, t, h, d, inverse: true);
            x.AccumulateGrad(dx);
        });
    }

    /// <summary>
    /// LlamaGen's precompute_freqs_cis_2d: a [clsTokenNum + gridSize², headDim/2, 2] table of (cos, sin).
    /// The first clsTokenNum rows are zeros (cos = sin = 0, as LlamaGen does). Grid position p = row·gridSize + col
    /// rotates its first headDim/4 pairs by row·fᵢ and its last headDim/4 pairs by col·fᵢ, with
    /// fᵢ = 1 / theta^(2i / (headDim/2)), i &lt; headDim/4. Computed in float32 step by step as torch does.
    /// </summary>
    public static Tensor Rope2dTable(int gridSize, int headDim, float theta = 10000f, int clsTokenNum = 1)
    {
        if (gridSize < 0 || clsTokenNum < 0)
            throw new ArgumentException($"rope2d_table: gridSize {gridSize} and clsTokenNum {clsTokenNum} must be ≥ 0");
        if (headDim <= 0 || headDim % 4 != 0)
            throw new ArgumentException($"rope2d_table: head dimension {headDim} must be a positive multiple of 4 (half for rows, half for columns, in pairs)");
        int half = headDim / 2, quarter = headDim / 4;
        var freqs = new float[quarter];
        for (int i = 0; i < quarter; i++)
        {
            float e = (float)(2 * i) / half;                // torch.arange(0, half, 2).float() / half
            freqs[i] = 1f / (float)Math.Pow(theta, e);      // base ** (...) in float32, then 1.0 / (...)
        }
        int n = clsTokenNum + gridSize * gridSize;
        var tb = new float[n * half * 2]; // not pooled: models keep the table for their lifetime
        for (int r = 0; r < gridSize; r++)
            for (int c = 0; c < gridSize; c++)
            {
                int row = clsTokenNum + r * gridSize + c;
                for (int i = 0; i < half; i++)
                {
                    float angle = i < quarter ? r * freqs[i] : c * freqs[i - quarter];
                    tb[(row * half + i) * 2] = (float)Math.Cos(angle);
                    tb[(row * half + i) * 2 + 1] = (float)Math.Sin(angle);
                }
            }
        return Tensor.FromArray(tb, n, half, 2);
    }
}
