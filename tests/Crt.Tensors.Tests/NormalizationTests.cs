using Crt.Tensors;
using Xunit;

namespace Crt.Tensors.Tests;

public class NormalizationTests
{
    // ---- float64 references ---------------------------------------------------------------------------

    private static double Sig(double v) => 1 / (1 + Math.Exp(-v));

    /// <summary>GroupNorm (+swish) forward and backward in float64 over x [n, c, s], straight from the definitions.</summary>
    internal static (double[] y, double[] dx, double[] dw, double[] db) GroupNormRef(float[] x, int n, int c, int s, int groups,
        float[]? w, float[]? b, double eps, bool swish, float[] g)
    {
        int cg = c / groups, m = cg * s;
        var y = new double[x.Length]; var dx = new double[x.Length];
        var dw = new double[c]; var db = new double[c];
        for (int ni = 0; ni < n; ni++)
            for (int gi = 0; gi < groups; gi++)
            {
                int off = (ni * c + gi * cg) * s;
                double mean = 0, v = 0;
                for (int i = 0; i < m; i++) mean += x[off + i];
                mean /= m;
                for (int i = 0; i < m; i++) v += (x[off + i] - mean) * (x[off + i] - mean);
                v /= m;
                double r = 1 / Math.Sqrt(v + eps);
                var xh = new double[m]; var dxh = new double[m];
                for (int i = 0; i < m; i++)
                {
                    int ch = gi * cg + i / s;
                    xh[i] = (x[off + i] - mean) * r;
                    double h = xh[i] * (w?[ch] ?? 1) + (b?[ch] ?? 0);
                    y[off + i] = swish ? h * Sig(h) : h;
                    double dh = swish ? g[off + i] * Sig(h) * (1 + h * (1 - Sig(h))) : g[off + i];
                    dw[ch] += dh * xh[i]; db[ch] += dh;
                    dxh[i] = dh * (w?[ch] ?? 1);
                }
                double m1 = dxh.Average(), m2 = dxh.Zip(xh, (p, q) => p * q).Average();
                for (int i = 0; i < m; i++) dx[off + i] = r * (dxh[i] - m1 - xh[i] * m2);
            }
        return (y, dx, dw, db);
    }

    /// <summary>LayerNorm (rms = false) or RMSNorm (rms = true) forward and backward in float64 over rows of length d.</summary>
    internal static (double[] y, double[] dx, double[] dw, double[] db) RowNormRef(float[] x, int d, float[]? w, float[]? b, double eps, bool rms, float[] g)
    {
        int rows = x.Length / d;
        var y = new double[x.Length]; var dx = new double[x.Length];
        var dw = new double[d]; var db = new double[d];
        for (int r = 0; r < rows; r++)
        {
            int off = r * d;
            double mean = 0, v = 0;
            if (!rms) { for (int i = 0; i < d; i++) mean += x[off + i]; mean /= d; }
            for (int i = 0; i < d; i++) v += (x[off + i] - mean) * (x[off + i] - mean);
            v /= d;
            double rs = 1 / Math.Sqrt(v + eps);
            var xh = new double[d]; var dxh = new double[d];
            for (int i = 0; i < d; i++)
            {
                xh[i] = (x[off + i] - mean) * rs;
                y[off + i] = xh[i] * (w?[i] ?? 1) + (b?[i] ?? 0);
                dw[i] += g[off + i] * xh[i]; db[i] += g[off + i];
                dxh[i] = g[off + i] * (w?[i] ?? 1);
            }
            double m1 = rms ? 0 : dxh.Average(), m2 = dxh.Zip(xh, (p, q) => p * q).Average();
            for (int i = 0; i < d; i++) dx[off + i] = rs * (dxh[i] - m1 - xh[i] * m2);
        }
        return (y, dx, dw, db);
    }

    /// <summary>
    /// max |actual − expected| ≤ tol·max(max|expected|, floor). Input gradients use floor 1 (the scale of
    /// the upstream gradient): where every row or group is tiny (one or two elements), dx is a cancellation
    /// residue of O(1) terms and only its absolute error is meaningful.
    /// </summary>
    internal static void Close(double[] expected, Tensor? actual, double tol, string what, double floor = 1e-30)
    {
        Assert.NotNull(actual);
        var a = actual!.ToArray();
        Assert.Equal(expected.Length, a.Length);
        double scale = Math.Max(floor, expected.Max(Math.Abs));
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(a[i] - expected[i]) <= tol * scale, $"{what} element {i}: {a[i]:R} vs {expected[i]:R} (max |expected| {scale:G4})");
    }

    private static Tensor Param(Rng rng, int size, float mean)
    {
        var p = rng.Normal(new[] { size }, mean, 0.5f);
        p.RequiresGrad = true;
        return p;
    }

    // ---- GroupNorm ---------------------------------------------------------------------------------------

    public static TheoryData<int[], int, bool, bool> GroupNormCases => new()
    {
        // shape, groups, affine, swish
        { new[] { 2, 3, 5, 7 }, 1, true, false },
        { new[] { 2, 3, 5, 7 }, 3, true, true },
        { new[] { 2, 3, 5, 7 }, 3, false, false },
        { new[] { 2, 6, 5, 7 }, 2, true, true },
        { new[] { 3, 4 }, 2, true, false },
        { new[] { 3, 8, 17 }, 4, false, true },
        { new[] { 1, 8, 33 }, 8, true, true },
        { new[] { 2, 64, 5, 5 }, 32, true, true },
        { new[] { 1, 2, 40, 41 }, 1, true, true }, // rows longer than a 1024-element accumulation block, odd tail
    };

    [Theory]
    [MemberData(nameof(GroupNormCases))]
    public void GroupNormMatchesFloat64ReferenceForwardAndBackward(int[] shape, int groups, bool affine, bool swish)
    {
        var rng = new Rng(31);
        int n = shape[0], c = shape[1], s = shape.Skip(2).Aggregate(1, (p, q) => p * q);
        var x = GradCheck.Input(rng, shape);
        var w = affine ? Param(rng, c, 1f) : null;
        var b = affine ? Param(rng, c, 0f) : null;
        var y = Ops.GroupNorm(x, groups, w, b, 1e-6f, swish);
        Assert.Equal(shape, y.Shape);
        var g = rng.Normal(shape);
        y.Backward(g);
        var r = GroupNormRef(x.ToArray(), n, c, s, groups, w?.ToArray(), b?.ToArray(), 1e-6, swish, g.ToArray());
        Close(r.y, y, 2e-6, "y");
        Close(r.dx, x.Grad, 1e-5, "dx", floor: 1);
        if (affine) { Close(r.dw, w!.Grad, 1e-5, "dweight"); Close(r.db, b!.Grad, 1e-5, "dbias"); }
    }

    [Theory]
    [MemberData(nameof(GroupNormCases))]
    public void GroupNormGradCheck(int[] shape, int groups, bool affine, bool swish)
    {
        var rng = new Rng(32);
        int c = shape[1];
        var x = GradCheck.Input(rng, shape);
        var w = affine ? Param(rng, c, 1f) : Tensor.Ones(c);
        var b = affine ? Param(rng, c, 0f) : Tensor.Zeros(c);
        GradCheck.Check(t => Ops.GroupNorm(t[0], groups, t[1], t[2], 1e-5f, swish), new[] { x, w, b },
            label: $"group_norm {ShapeUtil.Format(shape)} groups {groups} swish {swish}");
        // each input alone (weight and bias without x, and x without parameters)
        var x2 = GradCheck.Input(rng, shape); x2.RequiresGrad = false;
        var w2 = Param(rng, c, 1f);
        GradCheck.Check(t => Ops.GroupNorm(t[0], groups, t[1], null, 1e-5f, swish), new[] { x2, w2 }, label: "group_norm weight only");
        var b2 = Param(rng, c, 0f);
        GradCheck.Check(t => Ops.GroupNorm(t[0], groups, null, t[1], 1e-5f, swish), new[] { x2, b2 }, label: "group_norm bias only");
    }

    [Fact]
    public void GroupNormStatisticsSurviveALargeMean()
    {
        // mean 1000, std 0.01: a one-pass float E[x²] − E[x]² would lose the variance entirely
        var rng = new Rng(33);
        var x = rng.Normal(new[] { 2, 4, 9, 9 }, 1000f, 0.01f);
        var y = Ops.GroupNorm(x, 2, null, null, 1e-12f);
        var g = Tensor.Ones(2, 4, 9, 9);
        var r = GroupNormRef(x.ToArray(), 2, 4, 81, 2, null, null, 1e-12, false, g.ToArray());
        Close(r.y, y, 2e-6, "y");
        var ya = y.ToArray();
        Assert.InRange(ya.Take(162).Select(v => (double)v * v).Average(), 0.999, 1.001);
        // and the same through LayerNorm and BatchNorm
        var z = Ops.LayerNorm(x.Reshape(8, 81), null, null, 1e-12f);
        var q = RowNormRef(x.ToArray(), 81, null, null, 1e-12, false, g.ToArray());
        Close(q.y, z, 2e-6, "layer_norm y");
        var bn = Ops.BatchNorm2d(x, null, null, Tensor.Zeros(4), Tensor.Ones(4), training: true, eps: 1e-12f).ToArray();
        for (int ch = 0; ch < 4; ch++)
        {
            var v = Enumerable.Range(0, 2 * 81).Select(i => bn[(i / 81 * 4 + ch) * 81 + i % 81]).ToArray();
            Assert.InRange(v.Average(), -1e-4, 1e-4);
            Assert.InRange(v.Select(t => (double)t * t).Average(), 0.9999, 1.0001);
        }
    }

    [Fact]
    public void GroupNormRejectsBadShapes()
    {
        var x = Tensor.Zeros(2, 6, 3);
        Assert.Throws<ArgumentException>(() => Ops.GroupNorm(x, 4, null, null));
        Assert.Throws<ArgumentException>(() => Ops.GroupNorm(x, 0, null, null));
        Assert.Throws<ArgumentException>(() => Ops.GroupNorm(Tensor.Zeros(6), 2, null, null));
        var ex = Assert.Throws<ArgumentException>(() => Ops.GroupNorm(x, 3, Tensor.Ones(5), null));
        Assert.Contains("group_norm", ex.Message);
        Assert.Contains("[5]", ex.Message);
        Assert.Throws<ArgumentException>(() => Ops.GroupNorm(x, 3, null, Tensor.Ones(2, 3)));
    }

    [Fact]
    public void GroupNormSwishEqualsGroupNormThenSilu()
    {
        var rng = new Rng(34);
        var x = GradCheck.Input(rng, 2, 8, 6, 5);
        var w = Param(rng, 8, 1f); var b = Param(rng, 8, 0f);
        var g = rng.Normal(new[] { 2, 8, 6, 5 });
        var fused = Ops.GroupNorm(x, 4, w, b, 1e-6f, swish: true);
        fused.Backward(g);
        var (dx1, dw1, db1) = (x.Grad!.ToArray(), w.Grad!.ToArray(), b.Grad!.ToArray());
        x.Grad = null; w.Grad = null; b.Grad = null;
        var split = Ops.Silu(Ops.GroupNorm(x, 4, w, b, 1e-6f));
        split.Backward(g);
        Close(split.ToArray().Select(v => (double)v).ToArray(), fused, 1e-6, "y");
        Close(x.Grad!.ToArray().Select(v => (double)v).ToArray(), Tensor.FromArray(dx1, dx1.Length), 1e-5, "dx");
        Close(w.Grad!.ToArray().Select(v => (double)v).ToArray(), Tensor.FromArray(dw1, dw1.Length), 1e-5, "dw");
        Close(b.Grad!.ToArray().Select(v => (double)v).ToArray(), Tensor.FromArray(db1, db1.Length), 1e-5, "db");
    }

    [Fact]
    public void GroupNormAddsIntoAnExistingInputGradient()
    {
        var rng = new Rng(36);
        var x = GradCheck.Input(rng, 2, 6, 5, 3);
        var w = Param(rng, 6, 1f); var b = Param(rng, 6, 0f);
        var g = rng.Normal(new[] { 2, 6, 5, 3 });
        Ops.GroupNorm(x, 3, w, b, 1e-6f, swish: true).Backward(g);
        var once = x.Grad!.ToArray();
        var dw = w.Grad!.ToArray();
        // a second backward adds the same gradients again (leaf accumulation)
        Ops.GroupNorm(x, 3, w, b, 1e-6f, swish: true).Backward(g);
        var twice = x.Grad!.ToArray();
        for (int i = 0; i < once.Length; i++) Assert.Equal(2 * once[i], twice[i], 5);
        for (int i = 0; i < dw.Length; i++) Assert.Equal(2 * dw[i], w.Grad!.Span[i], 4);
        // x feeding two norms and a pointwise op: the interior gradient is accumulated across branches
        GradCheck.Check(t => Ops.Add(Ops.Add(Ops.GroupNorm(t[0], 3, t[1], t[2], 1e-5f, swish: true), Ops.GroupNorm(t[0], 2, null, null)), Ops.Silu(t[0])),
            new[] { GradCheck.Input(rng, 2, 6, 5, 3), Param(rng, 6, 1f), Param(rng, 6, 0f) }, label: "group_norm in a residual graph");
    }

    [Fact]
    public void GroupNormLargeInputUsesBothCoresConsistently()
    {
        // Big enough for the multi-core path; the result must not depend on how the work is split.
        var rng = new Rng(35);
        var x = GradCheck.Input(rng, 4, 64, 16, 16);
        var w = Param(rng, 64, 1f); var b = Param(rng, 64, 0f);
        var g = rng.Normal(new[] { 4, 64, 16, 16 });
        var y = Ops.GroupNorm(x, 32, w, b, 1e-6f, swish: true);
        y.Backward(g);
        var r = GroupNormRef(x.ToArray(), 4, 64, 256, 32, w.ToArray(), b.ToArray(), 1e-6, true, g.ToArray());
        Close(r.y, y, 2e-6, "y");
        Close(r.dx, x.Grad, 1e-5, "dx", floor: 1);
        Close(r.dw, w.Grad, 1e-5, "dweight");
        Close(r.db, b.Grad, 1e-5, "dbias");
    }

    // ---- BatchNorm2d -------------------------------------------------------------------------------------

    public static TheoryData<int[], bool> BatchNormCases => new()
    {
        { new[] { 4, 3, 5, 7 }, true },
        { new[] { 2, 1, 3, 3 }, false },
        { new[] { 3, 5, 1, 1 }, true },
        { new[] { 2, 17, 4, 3 }, true },
    };

    [Theory]
    [MemberData(nameof(BatchNormCases))]
    public void BatchNormTrainingMatchesReferenceAndUpdatesRunningStats(int[] shape, bool affine)
    {
        var rng = new Rng(41);
        int n = shape[0], c = shape[1], s = shape[2] * shape[3];
        var x = GradCheck.Input(rng, shape);
        var w = affine ? Param(rng, c, 1f) : null;
        var b = affine ? Param(rng, c, 0f) : null;
        var rm = rng.Normal(new[] { c }, 0f, 0.3f);
        var rv = rng.Uniform(new[] { c }, 0.5f, 2f);
        var rm0 = rm.ToArray(); var rv0 = rv.ToArray();
        const float momentum = 0.3f, eps = 1e-5f;
        var y = Ops.BatchNorm2d(x, w, b, rm, rv, training: true, momentum, eps);
        var g = rng.Normal(shape);
        y.Backward(g);

        // Batch norm in training = GroupNorm with one group per channel over the batch: build the reference
        // by moving the channel to the front ([c, n·s] with one "sample" per channel).
        var xa = x.ToArray(); var ga = g.ToArray();
        var xt = new float[xa.Length]; var gt = new float[xa.Length];
        for (int ni = 0; ni < n; ni++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < s; i++)
                {
                    xt[(ch * n + ni) * s + i] = xa[(ni * c + ch) * s + i];
                    gt[(ch * n + ni) * s + i] = ga[(ni * c + ch) * s + i];
                }
        var yr = new double[xa.Length]; var dxr = new double[xa.Length];
        var dwr = new double[c]; var dbr = new double[c];
        for (int ch = 0; ch < c; ch++)
        {
            var xc = xt.AsSpan(ch * n * s, n * s).ToArray();
            var gc = gt.AsSpan(ch * n * s, n * s).ToArray();
            var r = GroupNormRef(xc, 1, 1, n * s, 1, w is null ? null : new[] { w.Span[ch] }, b is null ? null : new[] { b.Span[ch] }, eps, false, gc);
            for (int ni = 0; ni < n; ni++)
                for (int i = 0; i < s; i++)
                {
                    yr[(ni * c + ch) * s + i] = r.y[ni * s + i];
                    dxr[(ni * c + ch) * s + i] = r.dx[ni * s + i];
                }
            dwr[ch] = r.dw[0]; dbr[ch] = r.db[0];
            // running statistics: (1 − m)·running + m·stat, unbiased variance
            double mean = xc.Average(x => (double)x);
            double uv = xc.Sum(x => (x - mean) * (x - mean)) / (n * s - 1);
            Assert.Equal((1 - momentum) * rm0[ch] + momentum * mean, rm.Span[ch], 5);
            Assert.Equal((1 - momentum) * rv0[ch] + momentum * uv, rv.Span[ch], 5);
        }
        Close(yr, y, 2e-6, "y");
        Close(dxr, x.Grad, 1e-5, "dx", floor: 1);
        if (affine) { Close(dwr, w!.Grad, 1e-5, "dweight"); Close(dbr, b!.Grad, 1e-5, "dbias"); }
    }

    [Fact]
    public void BatchNormRunningStatValues()
    {
        // Hand-computable: one channel holding 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3).
        var x = Tensor.FromArray(new[] { 1f, 2f, 3f, 4f }, 2, 1, 1, 2);
        var rm = Tensor.FromArray(new[] { 1f }, 1);
        var rv = Tensor.FromArray(new[] { 2f }, 1);
        var y = Ops.BatchNorm2d(x, null, null, rm, rv, training: true, momentum: 0.1f, eps: 0f);
        Assert.Equal(0.9 * 1 + 0.1 * 2.5, rm.Item(), 6);
        Assert.Equal(0.9 * 2 + 0.1 * (5.0 / 3), rv.Item(), 6);
        Assert.Equal(-1.5 / Math.Sqrt(1.25), y.Span[0], 5);
        // eval: running statistics, nothing updated
        var z = Ops.BatchNorm2d(x, null, null, rm, rv, training: false, momentum: 0.1f, eps: 0f);
        Assert.Equal(0.9 * 1 + 0.1 * 2.5, rm.Item(), 6);
        Assert.Equal((4 - rm.Item()) / Math.Sqrt(rv.Item()), z.Span[3], 5);
        Assert.Throws<ArgumentException>(() => Ops.BatchNorm2d(Tensor.Zeros(1, 2, 1, 1), null, null, Tensor.Zeros(2), Tensor.Ones(2), training: true));
        Assert.Throws<ArgumentException>(() => Ops.BatchNorm2d(Tensor.Zeros(2, 2, 3), null, null, Tensor.Zeros(2), Tensor.Ones(2), training: true));
        Assert.Throws<ArgumentException>(() => Ops.BatchNorm2d(Tensor.Zeros(2, 2, 3, 3), null, null, Tensor.Zeros(3), Tensor.Ones(2), training: false));
        Assert.Throws<ArgumentException>(() => Ops.BatchNorm2d(Tensor.Zeros(2, 2, 3, 3), Tensor.Ones(3), null, Tensor.Zeros(2), Tensor.Ones(2), training: false));
    }

    [Theory]
    [MemberData(nameof(BatchNormCases))]
    public void BatchNormEvalMatchesReference(int[] shape, bool affine)
    {
        var rng = new Rng(42);
        int n = shape[0], c = shape[1], s = shape[2] * shape[3];
        var x = GradCheck.Input(rng, shape);
        var w = affine ? Param(rng, c, 1f) : null;
        var b = affine ? Param(rng, c, 0f) : null;
        var rm = rng.Normal(new[] { c }, 0f, 0.3f);
        var rv = rng.Uniform(new[] { c }, 0.5f, 2f);
        var y = Ops.BatchNorm2d(x, w, b, rm, rv, training: false, eps: 1e-3f);
        var g = rng.Normal(shape);
        y.Backward(g);
        var yr = new double[x.Size]; var dxr = new double[x.Size];
        var dwr = new double[c]; var dbr = new double[c];
        for (int i = 0; i < x.Size; i++)
        {
            int ch = i / s % c;
            double r = 1 / Math.Sqrt(rv.Span[ch] + 1e-3), wc = w is null ? 1 : w.Span[ch];
            double xh = (x.Span[i] - rm.Span[ch]) * r;
            yr[i] = xh * wc + (b is null ? 0 : b.Span[ch]);
            dxr[i] = g.Span[i] * wc * r;
            dwr[ch] += g.Span[i] * xh; dbr[ch] += g.Span[i];
        }
        Close(yr, y, 2e-6, "y");
        Close(dxr, x.Grad, 1e-5, "dx", floor: 1);
        if (affine) { Close(dwr, w!.Grad, 1e-5, "dweight"); Close(dbr, b!.Grad, 1e-5, "dbias"); }
    }

    [Theory]
    [MemberData(nameof(BatchNormCases))]
    public void BatchNormGradCheck(int[] shape, bool affine)
    {
        var rng = new Rng(43);
        int c = shape[1];
        foreach (bool training in new[] { true, false })
        {
            var x = GradCheck.Input(rng, shape);
            var w = affine ? Param(rng, c, 1f) : Tensor.Ones(c);
            var b = affine ? Param(rng, c, 0f) : Tensor.Zeros(c);
            var rm = rng.Normal(new[] { c }, 0f, 0.3f);
            var rv = rng.Uniform(new[] { c }, 0.5f, 2f);
            GradCheck.Check(t => Ops.BatchNorm2d(t[0], t[1], t[2], rm, rv, training), new[] { x, w, b },
                label: $"batch_norm {ShapeUtil.Format(shape)} training {training}");
        }
    }

    // ---- LayerNorm / RMSNorm ------------------------------------------------------------------------------

    public static TheoryData<int[], bool, bool> RowNormCases => new()
    {
        // shape, weight, bias
        { new[] { 3, 17 }, true, true },
        { new[] { 2, 3, 33 }, true, false },
        { new[] { 4, 1 }, true, true },
        { new[] { 5, 7 }, false, true },
        { new[] { 33 }, false, false },
        { new[] { 2, 64 }, true, true },
    };

    [Theory]
    [MemberData(nameof(RowNormCases))]
    public void LayerNormMatchesReferenceAndGradChecks(int[] shape, bool hasW, bool hasB)
    {
        var rng = new Rng(51);
        int d = shape[^1];
        var x = GradCheck.Input(rng, shape);
        var w = hasW ? Param(rng, d, 1f) : null;
        var b = hasB ? Param(rng, d, 0f) : null;
        var y = Ops.LayerNorm(x, w, b, 1e-5f);
        var g = rng.Normal(shape);
        y.Backward(g);
        var r = RowNormRef(x.ToArray(), d, w?.ToArray(), b?.ToArray(), 1e-5, false, g.ToArray());
        Close(r.y, y, 2e-6, "y");
        Close(r.dx, x.Grad, 1e-5, "dx", floor: 1);
        if (hasW) Close(r.dw, w!.Grad, 1e-5, "dweight");
        if (hasB) Close(r.db, b!.Grad, 1e-5, "dbias");

        var inputs = new List<Tensor> { GradCheck.Input(rng, shape) };
        if (hasW) inputs.Add(Param(rng, d, 1f));
        if (hasB) inputs.Add(Param(rng, d, 0f));
        GradCheck.Check(t => Ops.LayerNorm(t[0], hasW ? t[1] : null, hasB ? t[hasW ? 2 : 1] : null), inputs.ToArray(),
            label: $"layer_norm {ShapeUtil.Format(shape)}");
    }

    [Theory]
    [MemberData(nameof(RowNormCases))]
    public void RmsNormMatchesReferenceAndGradChecks(int[] shape, bool hasW, bool _)
    {
        var rng = new Rng(52);
        int d = shape[^1];
        var x = GradCheck.Input(rng, shape);
        var w = hasW ? Param(rng, d, 1f) : null;
        var y = Ops.RmsNorm(x, w, 1e-5f);
        var g = rng.Normal(shape);
        y.Backward(g);
        var r = RowNormRef(x.ToArray(), d, w?.ToArray(), null, 1e-5, true, g.ToArray());
        Close(r.y, y, 2e-6, "y");
        Close(r.dx, x.Grad, 1e-5, "dx", floor: 1);
        if (hasW) Close(r.dw, w!.Grad, 1e-5, "dweight");

        var inputs = new List<Tensor> { GradCheck.Input(rng, shape) };
        if (hasW) inputs.Add(Param(rng, d, 1f));
        GradCheck.Check(t => Ops.RmsNorm(t[0], hasW ? t[1] : null), inputs.ToArray(), label: $"rms_norm {ShapeUtil.Format(shape)}");
    }

    [Fact]
    public void RowNormsOnLargeInputsAndParameterOnlyGradients()
    {
        var rng = new Rng(53);
        var x = rng.Normal(new[] { 300, 129 }, 3f, 2f); // multi-core path, odd width
        var w = Param(rng, 129, 1f); var b = Param(rng, 129, 0f);
        var g = rng.Normal(new[] { 300, 129 });
        Ops.LayerNorm(x, w, b).Backward(g);
        var r = RowNormRef(x.ToArray(), 129, w.ToArray(), b.ToArray(), 1e-5, false, g.ToArray());
        Close(r.dw, w.Grad, 1e-5, "layer_norm dweight");
        Close(r.db, b.Grad, 1e-5, "layer_norm dbias");
        Assert.Null(x.Grad);
        w.Grad = null;
        var y = Ops.RmsNorm(x, w);
        y.Backward(g);
        var q = RowNormRef(x.ToArray(), 129, w.ToArray(), null, 1e-5, true, g.ToArray());
        Close(q.y, y, 2e-6, "rms_norm y");
        Close(q.dw, w.Grad, 1e-5, "rms_norm dweight");
    }

    [Fact]
    public void RowNormsAddIntoAnExistingInputGradient()
    {
        var rng = new Rng(54);
        var x = GradCheck.Input(rng, 4, 33);
        var w = Param(rng, 33, 1f); var b = Param(rng, 33, 0f);
        var g = rng.Normal(new[] { 4, 33 });
        Ops.LayerNorm(x, w, b).Backward(g);
        var ln = x.Grad!.ToArray();
        Ops.RmsNorm(x, w).Backward(g); // adds into x.Grad
        x.Grad = null;
        Ops.RmsNorm(x, w).Backward(g);
        var rms = x.Grad!.ToArray();
        x.Grad = null;
        Ops.LayerNorm(x, w, b).Backward(g);
        Ops.RmsNorm(x, w).Backward(g);
        var both = x.Grad!.ToArray();
        for (int i = 0; i < both.Length; i++) Assert.Equal(ln[i] + rms[i], both[i], 5);
        GradCheck.Check(t => Ops.Add(Ops.LayerNorm(t[0], t[1], null), Ops.RmsNorm(t[0], t[1])),
            new[] { GradCheck.Input(rng, 3, 17), Param(rng, 17, 1f) }, label: "layer_norm + rms_norm of one input");
    }

    [Fact]
    public void RowNormsRejectWrongWidths()
    {
        var x = Tensor.Zeros(2, 6);
        var ex = Assert.Throws<ArgumentException>(() => Ops.LayerNorm(x, Tensor.Ones(5), null));
        Assert.Contains("layer_norm", ex.Message);
        Assert.Throws<ArgumentException>(() => Ops.LayerNorm(x, null, Tensor.Ones(7)));
        Assert.Throws<ArgumentException>(() => Ops.RmsNorm(x, Tensor.Ones(5)));
        Assert.Throws<ArgumentException>(() => Ops.LayerNorm(Tensor.Scalar(1f), null, null));
    }
}

/// <summary>Changes the global Par.Threads.</summary>
[Collection(GlobalKernelSettings.Name)]
public class NormalizationThreadCountTests
{
    [Fact]
    public void ResultsDoNotDependOnTheThreadCount()
    {
        var rng = new Rng(35);
        var x = GradCheck.Input(rng, 4, 64, 16, 16);
        var w = GradCheck.Input(rng, 64); var b = GradCheck.Input(rng, 64);
        var g = rng.Normal(new[] { 4, 64, 16, 16 });
        var y = Ops.GroupNorm(x, 32, w, b, 1e-6f, swish: true);
        y.Backward(g);
        int saved = Kernels.Cpu.Par.Threads;
        try
        {
            Kernels.Cpu.Par.Threads = 1;
            var x1 = x.Detach(); x1.RequiresGrad = true;
            var y1 = Ops.GroupNorm(x1, 32, w, b, 1e-6f, swish: true);
            Assert.Equal(y.ToArray(), y1.ToArray());
            // more threads than work items (a many-core machine): blocks never exceed the items
            Kernels.Cpu.Par.Threads = 64;
            var y2 = Ops.GroupNorm(x1, 2, w, b, 1e-6f, swish: true);
            y2.Backward(g);
            var r2 = NormalizationTests.GroupNormRef(x.ToArray(), 4, 64, 256, 2, w.ToArray(), b.ToArray(), 1e-6, true, g.ToArray());
            NormalizationTests.Close(r2.y, y2, 2e-6, "y (64 threads)");
            NormalizationTests.Close(r2.dx, x1.Grad, 1e-5, "dx (64 threads)", floor: 1);
            var big = rng.Normal(new[] { 3, 40000 });
            NormalizationTests.Close(NormalizationTests.RowNormRef(big.ToArray(), 40000, null, null, 1e-5, false, new float[120000]).y, Ops.LayerNorm(big, null, null), 2e-6, "layer_norm y (64 threads)");
            NormalizationTests.Close(big.ToArray().Select(v => v * ActivationTests.Sigmoid(v)).ToArray(), Ops.Silu(big), 1e-6, "silu (64 threads)");
        }
        finally { Kernels.Cpu.Par.Threads = saved; }
    }
}
