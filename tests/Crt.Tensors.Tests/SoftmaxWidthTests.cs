using Xunit;

namespace Crt.Tensors.Tests;

/// <summary>
/// Softmax, log-softmax and cross-entropy, forward and backward, at every SIMD width (and the scalar reference,
/// width 0), against float64. Rows and column blocks are sized to leave every width a tail: shorter than one vector,
/// whole vectors plus a remainder, and rows over the last axis (inner = 1) as well as strided axes (inner &gt; 1).
/// Switches the process-wide width, so the class runs alone.
/// </summary>
[Collection(GlobalKernelSettings.Name)]
public class SoftmaxWidthTests
{
    public static TheoryData<int, int[], int, bool> SoftmaxCases()
    {
        var data = new TheoryData<int, int[], int, bool>();
        foreach (int bits in new[] { 512, 256, 128, 0 })
            foreach (bool log in new[] { false, true })
            {
                // bits, shape, axis, log
                data.Add(bits, new[] { 3, 37 }, -1, log);     // inner = 1: vectors and a tail
                data.Add(bits, new[] { 2, 300 }, -1, log);
                data.Add(bits, new[] { 4, 3 }, -1, log);      // rows shorter than any vector
                data.Add(bits, new[] { 2, 19, 5 }, 1, log);   // strided, inner 5
                data.Add(bits, new[] { 2, 7, 37 }, 1, log);   // strided, inner 37: whole vectors of columns and a tail
                data.Add(bits, new[] { 9, 40 }, 0, log);      // strided over the first axis
            }
        return data;
    }

    /// <summary>float64 y and, for upstream g, dx along axis.</summary>
    private static (double[] y, double[] dx) Reference(float[] x, float[] g, int[] shape, int axis, bool log)
    {
        int a = axis < 0 ? axis + shape.Length : axis, n = shape[a], outer = 1, inner = 1;
        for (int i = 0; i < a; i++) outer *= shape[i];
        for (int i = a + 1; i < shape.Length; i++) inner *= shape[i];
        var y = new double[x.Length]; var dx = new double[x.Length];
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < inner; c++)
            {
                int At(int j) => (o * n + j) * inner + c;
                double m = double.NegativeInfinity, s = 0, sg = 0, gp = 0;
                for (int j = 0; j < n; j++) m = Math.Max(m, x[At(j)]);
                for (int j = 0; j < n; j++) s += Math.Exp(x[At(j)] - m);
                for (int j = 0; j < n; j++)
                {
                    double p = Math.Exp(x[At(j)] - m) / s;
                    y[At(j)] = log ? x[At(j)] - m - Math.Log(s) : p;
                    sg += g[At(j)];
                    gp += g[At(j)] * p;
                }
                for (int j = 0; j < n; j++)
                {
                    double p = Math.Exp(x[At(j)] - m) / s;
                    dx[At(j)] = log ? g[At(j)] - p * sg : p * (g[At(j)] - gp);
                }
            }
        return (y, dx);
    }

    [Theory]
    [MemberData(nameof(SoftmaxCases))]
    public void SoftmaxMatchesFloat64Reference(int bits, int[] shape, int axis, bool log)
    {
        var rng = new Rng((ulong)(shape.Sum() * 3 + axis + 7));
        var xs = rng.Normal(shape, 0f, 3f).ToArray();
        var gs = rng.Normal(shape).ToArray();
        var (ry, rdx) = Reference(xs, gs, shape, axis, log);

        using var _ = SimdWidths.Use(bits);
        var x = Tensor.FromArray((float[])xs.Clone(), shape);
        x.RequiresGrad = true;
        var y = log ? Ops.LogSoftmax(x, axis) : Ops.Softmax(x, axis);
        y.Backward(Tensor.FromArray((float[])gs.Clone(), shape));
        string what = $"{(log ? "log_softmax" : "softmax")} [{string.Join(",", shape)}] axis {axis} at {bits} bits";
        Close(ry, y.ToArray(), 1e-6, what + " y");
        // log-softmax's backward exponentiates the float32 output: ulp(y)·Σg, a few 1e-6 for these rows
        Close(rdx, x.Grad!.ToArray(), 1e-5, what + " dx");
    }

    [Theory]
    [MemberData(nameof(SimdWidths.All), MemberType = typeof(SimdWidths))]
    public void NaNReachesItsRowOrColumnOnly(int bits)
    {
        using var _ = SimdWidths.Use(bits);
        foreach (var (shape, axis) in new[] { (new[] { 3, 37 }, -1), (new[] { 37, 3 }, 0) })
        {
            var xs = new float[shape[0] * shape[1]];
            for (int i = 0; i < xs.Length; i++) xs[i] = i % 7 * 0.5f;
            // one NaN in row (or column) 1, at an element past the first vector
            int at = axis == -1 ? 1 * 37 + 20 : 20 * 3 + 1;
            xs[at] = float.NaN;
            foreach (bool log in new[] { false, true })
            {
                var x = Tensor.FromArray((float[])xs.Clone(), shape);
                var y = (log ? Ops.LogSoftmax(x, axis) : Ops.Softmax(x, axis)).ToArray();
                for (int i = 0; i < y.Length; i++)
                {
                    bool inLine = axis == -1 ? i / 37 == 1 : i % 3 == 1;
                    Assert.True(inLine == float.IsNaN(y[i]), $"{(log ? "log_softmax" : "softmax")} axis {axis} at {bits} bits: element {i} is {y[i]}");
                }
            }
        }
    }

    public static TheoryData<int, int, int> CrossEntropyCases()
    {
        var data = new TheoryData<int, int, int>();
        foreach (int bits in new[] { 512, 256, 128, 0 })
        {
            data.Add(bits, 9, 37);
            data.Add(bits, 5, 300);
            data.Add(bits, 4, 3);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CrossEntropyCases))]
    public void CrossEntropyMatchesFloat64Reference(int bits, int n, int c)
    {
        var rng = new Rng((ulong)(n * 31 + c));
        var ls = rng.Normal(new[] { n, c }, 0f, 3f).ToArray();
        var targets = Enumerable.Range(0, n).Select(i => i % 4 == 3 ? -100 : rng.NextInt(c)).ToArray();
        var w = rng.Normal(new[] { n }).ToArray();
        // float64: per-row loss lse − x[t], and d(Σ wᵢ·lossᵢ)/dx = wᵢ·(softmax − onehot)
        var loss = new double[n]; var grad = new double[n * c];
        for (int i = 0; i < n; i++)
        {
            if (targets[i] == -100) continue;
            double m = double.NegativeInfinity, s = 0;
            for (int j = 0; j < c; j++) m = Math.Max(m, ls[i * c + j]);
            for (int j = 0; j < c; j++) s += Math.Exp(ls[i * c + j] - m);
            loss[i] = m + Math.Log(s) - ls[i * c + targets[i]];
            for (int j = 0; j < c; j++) grad[i * c + j] = w[i] * (Math.Exp(ls[i * c + j] - m) / s - (j == targets[i] ? 1 : 0));
        }
        int count = targets.Count(t => t != -100);

        using var _ = SimdWidths.Use(bits);
        var x = Tensor.FromArray((float[])ls.Clone(), n, c);
        x.RequiresGrad = true;
        var per = Ops.CrossEntropyPerPosition(x, targets);
        per.Backward(Tensor.FromArray((float[])w.Clone(), n));
        Close(loss, per.ToArray(), 1e-6, $"per-position loss {n}x{c} at {bits} bits");
        Close(grad, x.Grad!.ToArray(), 1e-6, $"per-position dlogits {n}x{c} at {bits} bits");

        var x2 = Tensor.FromArray((float[])ls.Clone(), n, c);
        x2.RequiresGrad = true;
        var mean = Ops.CrossEntropy(x2, targets);
        mean.Backward();
        Close(new[] { loss.Sum() / count }, mean.ToArray(), 1e-6, $"mean loss {n}x{c} at {bits} bits");
        var meanGrad = new double[n * c];
        for (int i = 0; i < n * c; i++) meanGrad[i] = w[i / c] == 0 ? 0 : grad[i] / w[i / c] / count;
        Close(meanGrad, x2.Grad!.ToArray(), 1e-6, $"mean dlogits {n}x{c} at {bits} bits");
    }

    /// <summary>|expected − actual| ≤ tol·max(1, |expected|) everywhere.</summary>
    private static void Close(double[] expected, float[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * Math.Max(1, Math.Abs(expected[i])),
                $"{what}: element {i} is {actual[i]:G9}, expected {expected[i]:G9}");
    }
}
