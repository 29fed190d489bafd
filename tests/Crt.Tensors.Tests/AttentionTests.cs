using Crt.Tensors;
using Crt.Tensors.IO;
using Crt.Tensors.Kernels.Cpu;
using Xunit;

namespace Crt.Tensors.Tests;

public sealed class AttentionTests
{
    // ---- float64 references -------------------------------------------------------------------------

    /// <summary>Naive attention in float64: output and, for upstream w, the gradients of q, k, v.</summary>
    internal static (double[] o, double[] dq, double[] dk, double[] dv) Reference(Tensor q, Tensor k, Tensor v, bool causal, double scale, float[] w)
    {
        int b = q.Shape[0], h = q.Shape[1], tq = q.Shape[2], d = q.Shape[3], tk = k.Shape[2], off = tk - tq;
        var Q = q.ToArray(); var K = k.ToArray(); var V = v.ToArray();
        var o = new double[Q.Length]; var dq = new double[Q.Length]; var dk = new double[K.Length]; var dv = new double[V.Length];
        for (int bh = 0; bh < b * h; bh++)
        {
            int qo = bh * tq * d, ko = bh * tk * d;
            for (int i = 0; i < tq; i++)
            {
                var p = new double[tk];
                double mx = double.NegativeInfinity;
                for (int j = 0; j < tk; j++)
                {
                    if (causal && j > off + i) { p[j] = double.NegativeInfinity; continue; }
                    double s = 0;
                    for (int e = 0; e < d; e++) s += (double)Q[qo + i * d + e] * K[ko + j * d + e];
                    p[j] = s * scale;
                    mx = Math.Max(mx, p[j]);
                }
                double sum = 0;
                for (int j = 0; j < tk; j++) { p[j] = Math.Exp(p[j] - mx); sum += p[j]; }
                for (int j = 0; j < tk; j++) p[j] /= sum;
                for (int e = 0; e < d; e++)
                {
                    double acc = 0;
                    for (int j = 0; j < tk; j++) acc += p[j] * V[ko + j * d + e];
                    o[qo + i * d + e] = acc;
                }
                // backward of this row
                var dp = new double[tk];
                double dot = 0;
                for (int j = 0; j < tk; j++)
                {
                    double s = 0;
                    for (int e = 0; e < d; e++) s += (double)w[qo + i * d + e] * V[ko + j * d + e];
                    dp[j] = s;
                    dot += p[j] * s;
                    for (int e = 0; e < d; e++) dv[ko + j * d + e] += p[j] * w[qo + i * d + e];
                }
                for (int j = 0; j < tk; j++)
                {
                    double ds = p[j] * (dp[j] - dot) * scale;
                    for (int e = 0; e < d; e++)
                    {
                        dq[qo + i * d + e] += ds * K[ko + j * d + e];
                        dk[ko + j * d + e] += ds * Q[qo + i * d + e];
                    }
                }
            }
        }
        return (o, dq, dk, dv);
    }

    internal static void AssertClose(double[] expected, float[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        // relative to the largest value; values are O(1), so an all-zero expectation (one key: dq = dk = 0) compares against 0.1
        double maxAbs = Math.Max(0.1, expected.Max(Math.Abs));
        double maxErr = 0; int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = Math.Abs(expected[i] - actual[i]);
            if (!(e <= maxErr)) { maxErr = e; at = i; }
        }
        Assert.True(maxErr / maxAbs <= tol, $"{what}: max |err| {maxErr:G3} at {at} (expected {(at >= 0 ? expected[at] : 0):G6}, got {(at >= 0 ? actual[at] : 0):G6}) relative to max |value| {maxAbs:G3} exceeds {tol:G2}");
    }

    public static IEnumerable<object[]> Shapes() => new[]
    {
        // b, h, tq, tk, d, causal
        new object[] { 1, 1, 1, 1, 8, true },
        new object[] { 2, 3, 7, 7, 8, true },
        new object[] { 1, 2, 7, 7, 33, false },
        new object[] { 1, 2, 65, 65, 32, true },
        new object[] { 1, 2, 65, 65, 32, false },
        new object[] { 1, 1, 130, 130, 8, true },
        new object[] { 1, 2, 3, 17, 8, true },      // Tq < Tk: the last 3 positions
        new object[] { 1, 1, 1, 65, 32, true },     // one-token decode step
        new object[] { 1, 1, 65, 130, 33, true },
        new object[] { 2, 1, 5, 9, 64, false },
        new object[] { 1, 1, 130, 67, 17, false },
        new object[] { 8, 8, 9, 9, 16, true },      // many heads: one work item per head
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardAndBackwardMatchFloat64Reference(int b, int h, int tq, int tk, int d, bool causal)
    {
        var rng = new Rng((ulong)(b * 1000 + tq * 31 + tk * 7 + d));
        var q = GradCheck.Input(rng, b, h, tq, d);
        var k = GradCheck.Input(rng, b, h, tk, d);
        var v = GradCheck.Input(rng, b, h, tk, d);
        var w = rng.Normal(new[] { b, h, tq, d });
        double scale = 1 / Math.Sqrt(d);
        var (ro, rdq, rdk, rdv) = Reference(q, k, v, causal, scale, w.ToArray());

        // at the process's own width; AttentionWidthTests runs every width
        var y = Ops.ScaledDotProductAttention(q, k, v, causal);
        Assert.Equal(new[] { b, h, tq, d }, y.Shape);
        AssertClose(ro, y.ToArray(), 2e-6, "output");
        y.Backward(w);
        AssertClose(rdq, q.Grad!.ToArray(), 1e-5, "dq");
        AssertClose(rdk, k.Grad!.ToArray(), 1e-5, "dk");
        AssertClose(rdv, v.Grad!.ToArray(), 1e-5, "dv");
    }

    [Theory]
    [InlineData(1, 1, 1, 1, 8, true)]
    [InlineData(2, 2, 7, 7, 8, true)]
    [InlineData(1, 2, 7, 7, 33, false)]
    [InlineData(1, 1, 3, 17, 8, true)]
    [InlineData(1, 1, 65, 65, 32, true)]
    [InlineData(1, 1, 5, 130, 8, true)]
    [InlineData(1, 1, 66, 66, 8, false)]
    public void GradientsPassFiniteDifferenceCheck(int b, int h, int tq, int tk, int d, bool causal)
    {
        var rng = new Rng((ulong)(tq * 100 + tk + d));
        var q = GradCheck.Input(rng, b, h, tq, d);
        var k = GradCheck.Input(rng, b, h, tk, d);
        var v = GradCheck.Input(rng, b, h, tk, d);
        GradCheck.Check(x => Ops.ScaledDotProductAttention(x[0], x[1], x[2], causal), new[] { q, k, v },
            maxProbes: 24, label: $"sdpa {b}x{h}x{tq}x{tk}x{d} causal={causal}");
    }

    [Fact]
    public void CustomScaleAndLargeScoresStayStable()
    {
        var rng = new Rng(5);
        var q = GradCheck.Input(rng, 1, 2, 9, 16);
        var k = GradCheck.Input(rng, 1, 2, 9, 16);
        var v = GradCheck.Input(rng, 1, 2, 9, 16);
        var w = rng.Normal(new[] { 1, 2, 9, 16 });
        // scale 30: scores in the hundreds; a softmax without the max shift would overflow.
        var (ro, rdq, _, _) = Reference(q, k, v, true, 30, w.ToArray());
        var y = Ops.ScaledDotProductAttention(q, k, v, true, 30f);
        AssertClose(ro, y.ToArray(), 1e-5, "output");
        y.Backward(w);
        AssertClose(rdq, q.Grad!.ToArray(), 1e-4, "dq");
        Assert.All(y.ToArray(), x => Assert.True(float.IsFinite(x)));
    }

    [Fact]
    public void CausalDecodeStepEqualsLastRowOfFullAttention()
    {
        // KV-cache semantics: a single query attending to all Tk keys equals row Tk-1 of the full causal pass.
        var rng = new Rng(8);
        var q = rng.Normal(new[] { 1, 2, 20, 8 });
        var k = rng.Normal(new[] { 1, 2, 20, 8 });
        var v = rng.Normal(new[] { 1, 2, 20, 8 });
        var full = Ops.ScaledDotProductAttention(q, k, v, true).ToArray();
        var qLast = Ops.Slice(q, 2, 19, 20);
        var step = Ops.ScaledDotProductAttention(qLast, k, v, true).ToArray();
        for (int hh = 0; hh < 2; hh++)
            for (int e = 0; e < 8; e++)
                Near(full[(hh * 20 + 19) * 8 + e], step[hh * 8 + e], 1e-6);
    }

    [Fact]
    public void ShapeErrorsNameTheShapes()
    {
        var q = Tensor.Zeros(1, 2, 4, 8);
        var e1 = Assert.Throws<ArgumentException>(() => Ops.ScaledDotProductAttention(q, Tensor.Zeros(1, 2, 4, 7), Tensor.Zeros(1, 2, 4, 7), false));
        Assert.Contains("[1,2,4,7]", e1.Message);
        Assert.Contains("head dimensions", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => Ops.ScaledDotProductAttention(q, Tensor.Zeros(1, 3, 4, 8), Tensor.Zeros(1, 3, 4, 8), false));
        Assert.Contains("batch and head", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => Ops.ScaledDotProductAttention(q, Tensor.Zeros(1, 2, 4, 8), Tensor.Zeros(1, 2, 5, 8), false));
        Assert.Contains("different lengths", e3.Message);
        var e4 = Assert.Throws<ArgumentException>(() => Ops.ScaledDotProductAttention(q, Tensor.Zeros(1, 2, 3, 8), Tensor.Zeros(1, 2, 3, 8), true));
        Assert.Contains("Tq ≤ Tk", e4.Message);
        var e5 = Assert.Throws<ArgumentException>(() => Ops.ScaledDotProductAttention(Tensor.Zeros(2, 4, 8), q, q, false));
        Assert.Contains("[B, H, T, D]", e5.Message);
    }

    private static void Near(double expected, float actual, double tol)
        => Assert.True(Math.Abs(expected - actual) <= tol, $"expected {expected:G9}, got {actual:G9} (tolerance {tol:G2})");

    // ---- rotary embedding ---------------------------------------------------------------------------

    [Theory]
    [InlineData(1, 1, 1, 2)]
    [InlineData(2, 5, 3, 8)]
    [InlineData(1, 17, 2, 16)]
    [InlineData(3, 7, 1, 34)]
    [InlineData(2, 3, 4, 64)]
    public void RotaryForwardMatchesReferenceAndGradChecks(int b, int t, int h, int d)
    {
        var rng = new Rng((ulong)(b + t + h + d));
        var x = GradCheck.Input(rng, b, t, h, d);
        // a valid rotation table: random angles
        var angles = rng.Uniform(new[] { t, d / 2 }, -3f, 3f).ToArray();
        var tb = new float[t * d];
        for (int i = 0; i < angles.Length; i++) { tb[2 * i] = MathF.Cos(angles[i]); tb[2 * i + 1] = MathF.Sin(angles[i]); }
        var f = Tensor.FromArray(tb, t, d / 2, 2);

        var y = Ops.ApplyRotaryEmbedding(x, f).ToArray();
        var xs = x.ToArray();
        for (int bb = 0; bb < b; bb++)
            for (int tt = 0; tt < t; tt++)
                for (int hh = 0; hh < h; hh++)
                    for (int i = 0; i < d / 2; i++)
                    {
                        int at = ((bb * t + tt) * h + hh) * d + 2 * i;
                        double c = tb[(tt * (d / 2) + i) * 2], s = tb[(tt * (d / 2) + i) * 2 + 1];
                        Near(xs[at] * c - xs[at + 1] * s, y[at], 1e-6);
                        Near(xs[at + 1] * c + xs[at] * s, y[at + 1], 1e-6);
                    }
        GradCheck.Check(a => Ops.ApplyRotaryEmbedding(a[0], f), new[] { x }, label: $"rope {b}x{t}x{h}x{d}");
    }

    [Fact]
    public void RotaryErrors()
    {
        var e1 = Assert.Throws<ArgumentException>(() => Ops.ApplyRotaryEmbedding(Tensor.Zeros(1, 3, 2, 8), Tensor.Zeros(3, 3, 2)));
        Assert.Contains("[3,3,2]", e1.Message);
        Assert.Contains("[3,4,2]", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => Ops.ApplyRotaryEmbedding(Tensor.Zeros(1, 3, 2, 7), Tensor.Zeros(3, 3, 2)));
        Assert.Contains("odd", e2.Message);
        Assert.Throws<ArgumentException>(() => Ops.Rope2dTable(4, 6));
    }

    [Fact]
    public void Rope2dTableMatchesHandComputedValues()
    {
        // grid 4, head dim 8: half = 4 pairs, freqs = [1, 1/10000^(2/4) = 0.01]; pairs 0,1 use the row, 2,3 the column.
        var t = Ops.Rope2dTable(4, 8, 10000f, clsTokenNum: 1);
        Assert.Equal(new[] { 17, 4, 2 }, t.Shape);
        for (int i = 0; i < 8; i++) Assert.Equal(0f, t.Span[i]); // the class position: cos = sin = 0
        int pos = 1 + 2 * 4 + 3; // row 2, column 3
        double[] angles = { 2 * 1.0, 2 * 0.01, 3 * 1.0, 3 * 0.01 };
        for (int i = 0; i < 4; i++)
        {
            Near(Math.Cos(angles[i]), t[pos, i, 0], 1e-6);
            Near(Math.Sin(angles[i]), t[pos, i, 1], 1e-6);
        }
        // position (0, 0): identity rotation
        for (int i = 0; i < 4; i++) { Assert.Equal(1f, t[1, i, 0]); Assert.Equal(0f, t[1, i, 1]); }
        // more class tokens shift the grid down
        var t3 = Ops.Rope2dTable(4, 8, 10000f, clsTokenNum: 3);
        Assert.Equal(19, t3.Shape[0]);
        Assert.Equal(t[pos, 1, 1], t3[pos + 2, 1, 1]);
        // head dim 16 (8 pairs, quarter 4): freqs 1/10000^(2i/8)
        var t16 = Ops.Rope2dTable(3, 16, 10000f, clsTokenNum: 0);
        Near(Math.Sin(1 * Math.Pow(10000, -0.75)), t16[1 * 3 + 2, 3, 1], 1e-6);   // row 1, col 2 → pair 3 uses the row
        Near(Math.Cos(2 * Math.Pow(10000, -0.25)), t16[1 * 3 + 2, 5, 0], 1e-6);   // pair 5 = column, freq 1
    }

    // ---- PyTorch parity ---------------------------------------------------------------------------------

    private static double RelErr(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ToArray(); var a = actual.ToArray();
        double maxAbs = Math.Max(1e-12, e.Max(x => Math.Abs((double)x))), maxErr = 0;
        for (int i = 0; i < e.Length; i++) maxErr = Math.Max(maxErr, Math.Abs((double)e[i] - a[i]));
        return maxErr / maxAbs;
    }

    [Fact]
    public void MatchesPyTorchRopeAndCausalSdpa()
    {
        // tools/parity/make_attention.py: q,k,v [2,4,17,16] in LlamaGen layout [B,T,H,D] → RoPE (grid 4 + 1 class token)
        // → transpose to [B,H,T,D] → F.scaled_dot_product_attention(is_causal=True) → backward(grad_out).
        var f = SafeTensors.Load(SafeTensorsTests.DataFile("parity/attention.safetensors"));
        const double tol = 1e-5; // max |err| / max |value|
        var table = Ops.Rope2dTable(4, 16, 10000f, 1);
        Assert.True(RelErr(f["freqs_cis"], table) <= 1e-6, "rope table");

        var xq = f["xq"]; var xk = f["xk"]; var xv = f["xv"];
        xq.RequiresGrad = xk.RequiresGrad = xv.RequiresGrad = true;
        var q = Ops.Permute(Ops.ApplyRotaryEmbedding(xq, table), 0, 2, 1, 3);
        var k = Ops.Permute(Ops.ApplyRotaryEmbedding(xk, table), 0, 2, 1, 3);
        var v = Ops.Permute(xv, 0, 2, 1, 3);
        var y = Ops.ScaledDotProductAttention(q, k, v, causal: true);
        double eo = RelErr(f["out"], y);
        y.Backward(f["grad_out"]);
        double eq = RelErr(f["grad_xq"], xq.Grad!), ek = RelErr(f["grad_xk"], xk.Grad!), ev = RelErr(f["grad_xv"], xv.Grad!);
        Assert.True(eo <= tol && eq <= tol && ek <= tol && ev <= tol, $"relative errors out {eo:G3}, dq {eq:G3}, dk {ek:G3}, dv {ev:G3} (tolerance {tol})");
    }
}
