using Xunit;

namespace Crt.Tensors.Tests;

/// <summary>
/// GroupNorm (+swish), LayerNorm, RMSNorm and BatchNorm, forward and backward, at every SIMD width: each against the
/// float64 reference and against the scalar path (SimdPath.Bits = 0). Shapes are small (an emulated width is slow)
/// with row lengths that leave every width a tail, and one longer than the 1024-element accumulation blocks.
/// Switches the process-wide width, so the class runs alone.
/// </summary>
[Collection(GlobalKernelSettings.Name)]
public class NormalizationWidthTests
{
    /// <summary>Results of one forward and backward: y, dx, dweight, dbias (null where not computed).</summary>
    private sealed record Run(float[] Y, float[] Dx, float[]? Dw, float[]? Db);

    private static T At<T>(int bits, Func<T> body)
    {
        using var _ = SimdWidths.Use(bits);
        return body();
    }

    /// <summary>The width's results within the reference tolerances of the scalar path's (and the scalar path's of
    /// the float64 reference, checked by the caller).</summary>
    private static void SameAsScalar(Run scalar, Run simd, string what)
    {
        Near(scalar.Y, simd.Y, 2e-6, 1e-30, what + " y");
        Near(scalar.Dx, simd.Dx, 1e-5, 1, what + " dx");
        if (scalar.Dw is not null) Near(scalar.Dw, simd.Dw!, 1e-5, 1e-30, what + " dweight");
        if (scalar.Db is not null) Near(scalar.Db, simd.Db!, 1e-5, 1e-30, what + " dbias");
    }

    private static void Near(float[] want, float[] got, double tol, double floor, string what)
        => NormalizationTests.Close(want.Select(v => (double)v).ToArray(), Tensor.FromArray(got, got.Length), tol, what, floor);

    private static void MatchesReference((double[] y, double[] dx, double[] dw, double[] db) r, Run run, string what)
    {
        Assert.True(run.Y.Length == r.y.Length);
        NormalizationTests.Close(r.y, Tensor.FromArray(run.Y, run.Y.Length), 2e-6, what + " y");
        NormalizationTests.Close(r.dx, Tensor.FromArray(run.Dx, run.Dx.Length), 1e-5, what + " dx", floor: 1);
        if (run.Dw is not null) NormalizationTests.Close(r.dw, Tensor.FromArray(run.Dw, run.Dw.Length), 1e-5, what + " dweight");
        if (run.Db is not null) NormalizationTests.Close(r.db, Tensor.FromArray(run.Db, run.Db.Length), 1e-5, what + " dbias");
    }

    private static Tensor Leaf(float[] v, params int[] shape) { var t = Tensor.FromArray((float[])v.Clone(), shape); t.RequiresGrad = true; return t; }

    public static TheoryData<int, int[], int, bool, bool> GroupNormCases()
    {
        var d = new TheoryData<int, int[], int, bool, bool>();
        foreach (int bits in new[] { 512, 256, 128 })
        {
            // shape, groups, affine, swish
            d.Add(bits, new[] { 2, 6, 5, 7 }, 3, true, true);
            d.Add(bits, new[] { 2, 6, 5, 7 }, 2, true, false);
            d.Add(bits, new[] { 3, 8, 17 }, 4, false, true);
            d.Add(bits, new[] { 2, 4, 9 }, 4, true, true); // rows shorter than one 512-bit vector
            d.Add(bits, new[] { 1, 2, 33, 37 }, 1, true, true); // rows longer than an accumulation block
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(GroupNormCases))]
    public void GroupNormMatchesTheScalarPathAndTheReference(int bits, int[] shape, int groups, bool affine, bool swish)
    {
        var rng = new Rng(61);
        int n = shape[0], c = shape[1], s = shape.Skip(2).Aggregate(1, (p, q) => p * q);
        var x = rng.Normal(shape, 0.5f, 2f).ToArray();
        var w = affine ? rng.Normal(new[] { c }, 1f, 0.5f).ToArray() : null;
        var b = affine ? rng.Normal(new[] { c }, 0f, 0.5f).ToArray() : null;
        var g = rng.Normal(shape).ToArray();
        var dx0 = rng.Normal(shape).ToArray();
        Func<Run> body = () =>
        {
            var xt = Leaf(x, shape);
            var wt = w is null ? null : Leaf(w, c);
            var bt = b is null ? null : Leaf(b, c);
            var y = Ops.GroupNorm(xt, groups, wt, bt, 1e-6f, swish);
            y.Backward(Tensor.FromArray((float[])g.Clone(), shape));
            return new Run(y.ToArray(), xt.Grad!.ToArray(), wt?.Grad!.ToArray(), bt?.Grad!.ToArray());
        };
        var scalar = At(0, body);
        var simd = At(bits, body);
        var r = NormalizationTests.GroupNormRef(x, n, c, s, groups, w, b, 1e-6, swish, g);
        MatchesReference(r, scalar, "scalar");
        MatchesReference(r, simd, $"{bits} bits");
        SameAsScalar(scalar, simd, $"{bits} bits");

        // the backward adding into an existing input gradient (a second consumer of x)
        var acc = At(bits, () =>
        {
            var xt = Leaf(x, shape);
            xt.Grad = Tensor.FromArray((float[])dx0.Clone(), shape);
            Ops.GroupNorm(xt, groups, w is null ? null : Leaf(w, c), b is null ? null : Leaf(b, c), 1e-6f, swish)
                .Backward(Tensor.FromArray((float[])g.Clone(), shape));
            return xt.Grad!.ToArray();
        });
        NormalizationTests.Close(r.dx.Zip(dx0, (p, q) => p + q).ToArray(), Tensor.FromArray(acc, acc.Length), 1e-5, $"{bits} bits accumulated dx", floor: 1);
    }

    public static TheoryData<int, int, int, bool, bool> RowNormCases()
    {
        var d = new TheoryData<int, int, int, bool, bool>();
        foreach (int bits in new[] { 512, 256, 128 })
            foreach (bool rms in new[] { false, true })
            {
                // rows, d, rms, affine
                d.Add(bits, 5, 1, rms, true);
                d.Add(bits, 4, 7, rms, true);
                d.Add(bits, 3, 37, rms, false);
                d.Add(bits, 3, 70, rms, true);
                d.Add(bits, 2, 1100, rms, true); // longer than an accumulation block
            }
        return d;
    }

    [Theory]
    [MemberData(nameof(RowNormCases))]
    public void RowNormsMatchTheScalarPathAndTheReference(int bits, int rows, int d, bool rms, bool affine)
    {
        var rng = new Rng(62);
        var x = rng.Normal(new[] { rows, d }, 1f, 2f).ToArray();
        var w = affine ? rng.Normal(new[] { d }, 1f, 0.5f).ToArray() : null;
        var b = affine && !rms ? rng.Normal(new[] { d }, 0f, 0.5f).ToArray() : null;
        var g = rng.Normal(new[] { rows, d }).ToArray();
        var dx0 = rng.Normal(new[] { rows, d }).ToArray();
        Run Body(bool accumulate)
        {
            var xt = Leaf(x, rows, d);
            if (accumulate) xt.Grad = Tensor.FromArray((float[])dx0.Clone(), rows, d);
            var wt = w is null ? null : Leaf(w, d);
            var bt = b is null ? null : Leaf(b, d);
            var y = rms ? Ops.RmsNorm(xt, wt, 1e-5f) : Ops.LayerNorm(xt, wt, bt, 1e-5f);
            y.Backward(Tensor.FromArray((float[])g.Clone(), rows, d));
            return new Run(y.ToArray(), xt.Grad!.ToArray(), wt?.Grad!.ToArray(), bt?.Grad!.ToArray());
        }
        string what = rms ? "rms_norm" : "layer_norm";
        var scalar = At(0, () => Body(false));
        var simd = At(bits, () => Body(false));
        var r = NormalizationTests.RowNormRef(x, d, w, b, 1e-5, rms, g);
        MatchesReference(r, scalar, what + " scalar");
        MatchesReference(r, simd, $"{what} {bits} bits");
        SameAsScalar(scalar, simd, $"{what} {bits} bits");
        var acc = At(bits, () => Body(true));
        NormalizationTests.Close(r.dx.Zip(dx0, (p, q) => p + q).ToArray(), Tensor.FromArray(acc.Dx, acc.Dx.Length), 1e-5, $"{what} {bits} bits accumulated dx", floor: 1);
    }

    [Theory]
    [MemberData(nameof(SimdWidths.All), MemberType = typeof(SimdWidths))]
    public void BatchNormMatchesTheReferenceAndTheScalarPath(int bits)
    {
        var rng = new Rng(63);
        int n = 3, c = 5, s = 4 * 7;
        int[] shape = { n, c, 4, 7 };
        var x = rng.Normal(shape, 0.5f, 2f).ToArray();
        var w = rng.Normal(new[] { c }, 1f, 0.5f).ToArray();
        var b = rng.Normal(new[] { c }, 0f, 0.5f).ToArray();
        var g = rng.Normal(shape).ToArray();
        float[] rm0 = { 0.1f, -0.2f, 0.3f, 0f, 1f }, rv0 = { 1f, 0.5f, 2f, 1.5f, 0.8f };
        foreach (bool training in new[] { true, false })
        {
            Run Body()
            {
                var xt = Leaf(x, shape); var wt = Leaf(w, c); var bt = Leaf(b, c);
                var rm = Tensor.FromArray((float[])rm0.Clone(), c);
                var rv = Tensor.FromArray((float[])rv0.Clone(), c);
                var y = Ops.BatchNorm2d(xt, wt, bt, rm, rv, training, eps: 1e-5f);
                y.Backward(Tensor.FromArray((float[])g.Clone(), shape));
                return new Run(y.ToArray(), xt.Grad!.ToArray(), wt.Grad!.ToArray(), bt.Grad!.ToArray());
            }
            var run = At(bits, Body);
            MatchesReference(BatchNormRef(x, n, c, s, w, b, rm0, rv0, training, g), run, $"batch_norm {bits} bits, training {training}");
            if (bits != 0) SameAsScalar(At(0, Body), run, $"batch_norm {bits} bits, training {training}");
        }
    }

    /// <summary>BatchNorm in float64: in training GroupNorm with one group over each channel's values across the
    /// batch, in evaluation an affine map by the running statistics.</summary>
    private static (double[] y, double[] dx, double[] dw, double[] db) BatchNormRef(float[] x, int n, int c, int s, float[] w, float[] b,
        float[] rm, float[] rv, bool training, float[] g)
    {
        var y = new double[x.Length]; var dx = new double[x.Length];
        var dw = new double[c]; var db = new double[c];
        for (int ch = 0; ch < c; ch++)
        {
            int[] idx = Enumerable.Range(0, n).SelectMany(ni => Enumerable.Range((ni * c + ch) * s, s)).ToArray();
            float[] xc = idx.Select(i => x[i]).ToArray(), gc = idx.Select(i => g[i]).ToArray();
            if (training)
            {
                var r = NormalizationTests.GroupNormRef(xc, 1, 1, xc.Length, 1, new[] { w[ch] }, new[] { b[ch] }, 1e-5, false, gc);
                for (int k = 0; k < idx.Length; k++) { y[idx[k]] = r.y[k]; dx[idx[k]] = r.dx[k]; }
                dw[ch] = r.dw[0]; db[ch] = r.db[0];
            }
            else
            {
                double rs = 1 / Math.Sqrt(rv[ch] + 1e-5);
                for (int k = 0; k < idx.Length; k++)
                {
                    double xh = (xc[k] - rm[ch]) * rs;
                    y[idx[k]] = xh * w[ch] + b[ch];
                    dx[idx[k]] = gc[k] * w[ch] * rs;
                    dw[ch] += gc[k] * xh; db[ch] += gc[k];
                }
            }
        }
        return (y, dx, dw, db);
    }
}
