using Crt.Tensors.Kernels.Cpu;
using Xunit;

namespace Crt.Tensors.Tests;

/// <summary>
/// Attention forward and backward, rotary embedding and the vector exp at every SIMD width (and the scalar
/// reference, width 0), each against float64. Shapes are small (an emulated width is slow) but cross the 64-key and
/// 64-query block boundaries, cover causal and not, Tq &lt; Tk (KV-cache decoding) and head dims that are not a
/// multiple of 16 (padded) or of any vector (scalar tails). Switches the process-wide width, so the class runs alone.
/// </summary>
[Collection(GlobalKernelSettings.Name)]
public class AttentionWidthTests
{
    public static TheoryData<int, int, int, int, int, int, bool> AttentionCases()
    {
        var data = new TheoryData<int, int, int, int, int, int, bool>();
        foreach (int bits in new[] { 512, 256, 128, 0 })
        {
            // bits, b, h, tq, tk, d, causal
            data.Add(bits, 1, 2, 7, 7, 8, true);
            data.Add(bits, 1, 1, 66, 66, 24, true);    // two query and two key blocks, a diagonal inside each
            data.Add(bits, 1, 1, 66, 66, 24, false);
            data.Add(bits, 1, 2, 9, 9, 40, false);
            data.Add(bits, 1, 1, 33, 33, 64, true);
            data.Add(bits, 2, 1, 5, 9, 64, false);
            data.Add(bits, 1, 1, 12, 12, 17, true);    // odd head dim
            data.Add(bits, 1, 2, 3, 17, 8, true);      // Tq < Tk: the last 3 positions
            data.Add(bits, 1, 1, 1, 70, 40, true);     // one-token decode step over two key blocks
            data.Add(bits, 1, 1, 5, 130, 24, true);    // a few queries at the end of three key blocks
            data.Add(bits, 2, 4, 9, 9, 16, true);      // many heads: one work item per head
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(AttentionCases))]
    public void AttentionMatchesFloat64Reference(int bits, int b, int h, int tq, int tk, int d, bool causal)
    {
        var rng = new Rng((ulong)(b * 1000 + tq * 31 + tk * 7 + d));
        var q = GradCheck.Input(rng, b, h, tq, d);
        var k = GradCheck.Input(rng, b, h, tk, d);
        var v = GradCheck.Input(rng, b, h, tk, d);
        var w = rng.Normal(new[] { b, h, tq, d });
        var (ro, rdq, rdk, rdv) = AttentionTests.Reference(q, k, v, causal, 1 / Math.Sqrt(d), w.ToArray());

        using var _ = SimdWidths.Use(bits);
        var y = Ops.ScaledDotProductAttention(q, k, v, causal);
        AttentionTests.AssertClose(ro, y.ToArray(), 2e-6, $"output at {bits} bits");
        y.Backward(w);
        AttentionTests.AssertClose(rdq, q.Grad!.ToArray(), 1e-5, $"dq at {bits} bits");
        AttentionTests.AssertClose(rdk, k.Grad!.ToArray(), 1e-5, $"dk at {bits} bits");
        AttentionTests.AssertClose(rdv, v.Grad!.ToArray(), 1e-5, $"dv at {bits} bits");
    }

    [Theory]
    [MemberData(nameof(SimdWidths.All), MemberType = typeof(SimdWidths))]
    public void LargeScoresStayFiniteAndMatch(int bits)
    {
        // scale 30: scores in the hundreds; a softmax without the max shift would overflow
        var rng = new Rng(5);
        var q = GradCheck.Input(rng, 1, 2, 70, 16);
        var k = GradCheck.Input(rng, 1, 2, 70, 16);
        var v = GradCheck.Input(rng, 1, 2, 70, 16);
        var w = rng.Normal(new[] { 1, 2, 70, 16 });
        var (ro, rdq, _, _) = AttentionTests.Reference(q, k, v, true, 30, w.ToArray());
        using var _ = SimdWidths.Use(bits);
        var y = Ops.ScaledDotProductAttention(q, k, v, true, 30f);
        AttentionTests.AssertClose(ro, y.ToArray(), 1e-4, $"output at {bits} bits"); // float32 scores of ~100 carry ~1e-5 error into exp
        y.Backward(w);
        AttentionTests.AssertClose(rdq, q.Grad!.ToArray(), 1e-4, $"dq at {bits} bits");
    }

    public static TheoryData<int, int, int, int, bool> PrefixCases()
    {
        var data = new TheoryData<int, int, int, int, bool>();
        foreach (int bits in new[] { 512, 256, 128, 0 })
        {
            // bits, tq, length, d, causal
            data.Add(bits, 1, 1, 32, true);      // the first decode step: one key
            data.Add(bits, 1, 37, 32, true);     // a decode step deep into the cache
            data.Add(bits, 3, 20, 17, true);     // a few queries, odd head dim (scalar tails)
            data.Add(bits, 2, 9, 40, false);
            data.Add(bits, 12, 70, 24, true);    // more queries than the decode kernel takes: the blocked kernel, strided
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(PrefixCases))]
    public void PrefixAttentionReadsOnlyTheFilledCacheRows(int bits, int tq, int length, int d, bool causal)
    {
        const int b = 2, h = 3, capacity = 80;
        var rng = new Rng((ulong)(tq * 131 + length * 7 + d));
        var q = rng.Normal(new[] { b, h, tq, d });
        var k = rng.Normal(new[] { b, h, length, d });
        var v = rng.Normal(new[] { b, h, length, d });
        // the stores hold k and v in their first rows and NaN after them: a read past length would show
        var kStore = Tensor.Full(float.NaN, b, h, capacity, d);
        var vStore = Tensor.Full(float.NaN, b, h, capacity, d);
        for (int bh = 0; bh < b * h; bh++)
        {
            k.ReadOnlySpan.Slice(bh * length * d, length * d).CopyTo(kStore.Span.Slice(bh * capacity * d));
            v.ReadOnlySpan.Slice(bh * length * d, length * d).CopyTo(vStore.Span.Slice(bh * capacity * d));
        }
        var (ro, _, _, _) = AttentionTests.Reference(q, k, v, causal, 1 / Math.Sqrt(d), new float[b * h * tq * d]);

        using var _ = SimdWidths.Use(bits);
        using var noGrad = Tensor.NoGrad();
        var y = Ops.ScaledDotProductAttentionPrefix(q, kStore, vStore, length, causal);
        Assert.Equal(new[] { b, h, tq, d }, y.Shape);
        AttentionTests.AssertClose(ro, y.ToArray(), 2e-6, $"output at {bits} bits");
    }

    [Fact]
    public void PrefixAttentionRefusesGradientsAndBadLengths()
    {
        var q = Tensor.Zeros(1, 1, 1, 8);
        var store = Tensor.Zeros(1, 1, 4, 8);
        Assert.Throws<ArgumentException>(() => Ops.ScaledDotProductAttentionPrefix(q, store, store, 0, true));
        Assert.Throws<ArgumentException>(() => Ops.ScaledDotProductAttentionPrefix(q, store, store, 5, true));
        Assert.Throws<ArgumentException>(() => Ops.ScaledDotProductAttentionPrefix(Tensor.Zeros(1, 1, 3, 8), store, store, 2, true));
        q.RequiresGrad = true;
        var e = Assert.Throws<InvalidOperationException>(() => Ops.ScaledDotProductAttentionPrefix(q, store, store, 2, true));
        Assert.Contains("inference only", e.Message);
    }

    public static TheoryData<int, int> RotaryCases()
    {
        var data = new TheoryData<int, int>();
        foreach (int bits in new[] { 512, 256, 128, 0 })
            foreach (int d in new[] { 2, 6, 8, 34, 64 }) // below a vector, 128-bit tail, whole, a tail at every width
                data.Add(bits, d);
        return data;
    }

    [Theory]
    [MemberData(nameof(RotaryCases))]
    public void RotaryMatchesReferenceForwardAndBackward(int bits, int d)
    {
        int b = 2, t = 3, h = 2;
        var rng = new Rng((ulong)(d + 100));
        var x = rng.Normal(new[] { b, t, h, d });
        x.RequiresGrad = true;
        var g = rng.Normal(new[] { b, t, h, d });
        var angles = rng.Uniform(new[] { t, d / 2 }, -3f, 3f).ToArray();
        var tb = new float[t * d];
        for (int i = 0; i < angles.Length; i++) { tb[2 * i] = MathF.Cos(angles[i]); tb[2 * i + 1] = MathF.Sin(angles[i]); }
        var f = Tensor.FromArray(tb, t, d / 2, 2);

        using var _ = SimdWidths.Use(bits);
        var y = Ops.ApplyRotaryEmbedding(x, f);
        y.Backward(g);
        var xs = x.ToArray(); var ys = y.ToArray(); var gs = g.ToArray(); var dx = x.Grad!.ToArray();
        for (int row = 0; row < b * t * h; row++)
        {
            int tt = row / h % t;
            for (int i = 0; i < d / 2; i++)
            {
                int at = row * d + 2 * i;
                double c = tb[(tt * (d / 2) + i) * 2], s = tb[(tt * (d / 2) + i) * 2 + 1];
                Near(xs[at] * c - xs[at + 1] * s, ys[at], 1e-6, $"y[{at}] at {bits} bits");
                Near(xs[at + 1] * c + xs[at] * s, ys[at + 1], 1e-6, $"y[{at + 1}] at {bits} bits");
                // the backward rotates by the negative angle
                Near(gs[at] * c + gs[at + 1] * s, dx[at], 1e-6, $"dx[{at}] at {bits} bits");
                Near(gs[at + 1] * c - gs[at] * s, dx[at + 1], 1e-6, $"dx[{at + 1}] at {bits} bits");
            }
        }
    }

    [Fact]
    public void SimdExpIsAccurateAtEveryWidth()
    {
        CheckExp<V512>();
        CheckExp<V256>();
        CheckExp<V128>();
    }

    private static void CheckExp<V>() where V : unmanaged, IVec<V>
    {
        var rng = new Rng(3);
        var xs = new float[V.Count]; var ys = new float[V.Count];
        double worst = 0;
        for (int i = 0; i < 4000; i++)
        {
            for (int j = 0; j < V.Count; j++) xs[j] = (float)(rng.NextDouble() * 175 - 87);
            Exp<V>(xs, ys);
            for (int j = 0; j < V.Count; j++) worst = Math.Max(worst, Math.Abs(ys[j] - Math.Exp(xs[j])) / Math.Exp(xs[j]));
        }
        Assert.True(worst < 5e-7, $"{V.Count} lanes: max relative error {worst:G3}");
        foreach (var (x, want) in new[] { (float.NegativeInfinity, 0f), (-100f, 0f), (0f, 1f), (float.NaN, float.NaN) })
        {
            Array.Fill(xs, x);
            Exp<V>(xs, ys);
            Assert.All(ys, y => Assert.Equal(want, y));
        }
    }

    private static void Exp<V>(float[] x, float[] y) where V : unmanaged, IVec<V>
        => SimdExp.Exp(V.LoadUnsafe(ref x[0], 0)).StoreUnsafe(ref y[0], 0);

    private static void Near(double expected, float actual, double tol, string what)
        => Assert.True(Math.Abs(expected - actual) <= tol, $"{what}: expected {expected:G9}, got {actual:G9} (tolerance {tol:G2})");
}
