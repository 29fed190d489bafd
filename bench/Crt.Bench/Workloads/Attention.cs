using Crt.Tensors;

namespace Crt.Bench.Workloads;

/// <summary>
/// Causal attention forward + backward for [32, 8, 65, 32] q, k, v with a fixed upstream gradient
/// (LlamaGen gpt-t4-like: 8 heads of 32, 64 tokens + class token). Gradients accumulate into the
/// existing .grad of q, k, v on both sides (as under gradient accumulation), so the timing is the op's,
/// not the allocation of fresh leaf gradient arrays.
/// </summary>
public sealed class AttentionFwdBwdWorkload : IWorkload
{
    private readonly int _b, _h, _t, _d;
    private Tensor _q = null!, _k = null!, _v = null!, _g = null!;

    public AttentionFwdBwdWorkload() : this(32, 8, 65, 32) { }
    private AttentionFwdBwdWorkload(int b, int h, int t, int d) { _b = b; _h = h; _t = t; _d = d; }

    /// <summary>The gpt-t4-like case above and a gpt-b-like one (12 heads of 64, 16×16 tokens + class token).</summary>
    public static IEnumerable<IWorkload> All() => new IWorkload[] { new AttentionFwdBwdWorkload(32, 8, 65, 32), new AttentionFwdBwdWorkload(4, 12, 257, 64) };

    public string Name => $"attention-fwdbwd-{_b}x{_h}x{_t}x{_d}";
    // Dense count (as if uncausal): forward 2 matmuls, backward 5 (one recomputation), 2·T·T·D flops each.
    public double Flops => 7.0 * 2 * _b * _h * _t * _t * _d;

    public void Setup()
    {
        var r = new Rng(0);
        var shape = new[] { _b, _h, _t, _d };
        _q = r.Normal(shape); _q.RequiresGrad = true;
        _k = r.Normal(shape); _k.RequiresGrad = true;
        _v = r.Normal(shape); _v.RequiresGrad = true;
        _g = r.Normal(shape);
    }

    public void Run()
    {
        Ops.ScaledDotProductAttention(_q, _k, _v, causal: true).Backward(_g);
    }
}

/// <summary>Mean cross-entropy of [2048, 512] logits, forward + backward (gradient accumulates into .grad on both sides).</summary>
public sealed class CrossEntropyFwdBwdWorkload : IWorkload
{
    private Tensor _x = null!;
    private int[] _t = null!;
    public string Name => "cross-entropy-fwdbwd-2048x512";
    public double Flops => 2048.0 * 512 * 6;

    public void Setup()
    {
        var r = new Rng(0);
        _x = r.Normal(new[] { 2048, 512 }); _x.RequiresGrad = true;
        _t = Enumerable.Range(0, 2048).Select(_ => r.NextInt(512)).ToArray();
    }

    public void Run()
    {
        Ops.CrossEntropy(_x, _t).Backward();
    }
}
