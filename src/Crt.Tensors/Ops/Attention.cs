namespace Crt.Tensors;

// CONTRACT STUB — signatures are fixed; bodies are being implemented.
public static partial class Ops
{
    /// <summary>
    /// softmax(q·kᵀ·scale [+ causal mask])·v, fused (scores never materialised beyond one block).
    /// q [B, H, Tq, D], k and v [B, H, Tk, D]; scale defaults to 1/√D. With <paramref name="causal"/>
    /// and Tq &lt; Tk the queries are the last Tq positions (KV-cache decoding).
    /// </summary>
    public static Tensor ScaledDotProductAttention(Tensor q, Tensor k, Tensor v, bool causal, float? scale = null) => throw new NotImplementedException("ScaledDotProductAttention");

    /// <summary>LlamaGen's apply_rotary_emb: x [B, T, H, D], freqsCis [T, D/2, 2] (cos, sin); adjacent pairs rotate.</summary>
    public static Tensor ApplyRotaryEmbedding(Tensor x, Tensor freqsCis) => throw new NotImplementedException("ApplyRotaryEmbedding");
}
