using Crt.Tensors;
using Crt.Tensors.IO;
using Crt.Tensors.Kernels.Cpu;
using Xunit;

namespace Crt.Tensors.Tests;

public class ConvTests
{
    private readonly Xunit.Abstractions.ITestOutputHelper _out;

    public ConvTests(Xunit.Abstractions.ITestOutputHelper output) => _out = output;

    // ---- float64 references -------------------------------------------------------------------------

    /// <summary>Direct convolution in float64: y[n, o, oh, ow] = b[o] + Σ x[n, c, oh·s + i − top, ow·s + j − left]·w[o, c, i, j].</summary>
    internal static double[] RefConv(Tensor x, Tensor w, Tensor? b, int s, Padding2d p, out int[] shape)
    {
        int N = x.Shape[0], C = x.Shape[1], H = x.Shape[2], W = x.Shape[3];
        int O = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3];
        int Ho = (H + p.Top + p.Bottom - kh) / s + 1, Wo = (W + p.Left + p.Right - kw) / s + 1;
        shape = new[] { N, O, Ho, Wo };
        var y = new double[N * O * Ho * Wo];
        for (int n = 0; n < N; n++)
            for (int o = 0; o < O; o++)
                for (int oh = 0; oh < Ho; oh++)
                    for (int ow = 0; ow < Wo; ow++)
                    {
                        double acc = b is null ? 0 : b.Span[o];
                        for (int c = 0; c < C; c++)
                            for (int i = 0; i < kh; i++)
                                for (int j = 0; j < kw; j++)
                                {
                                    int ih = oh * s + i - p.Top, iw = ow * s + j - p.Left;
                                    if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                    acc += (double)x[n, c, ih, iw] * w[o, c, i, j];
                                }
                        y[((n * O + o) * Ho + oh) * Wo + ow] = acc;
                    }
        return y;
    }

    internal static void AssertClose(double[] expected, Tensor actual, double rel, string label)
    {
        Assert.Equal(expected.Length, actual.Size);
        double scale = Math.Max(1e-12, expected.Max(Math.Abs)), maxErr = 0;
        var a = actual.ReadOnlySpan;
        for (int i = 0; i < expected.Length; i++) maxErr = Math.Max(maxErr, Math.Abs(a[i] - expected[i]));
        Assert.True(maxErr <= rel * scale, $"{label}: max |err| {maxErr:G3} > {rel:G2} × max |ref| {scale:G3}");
    }

    public static TheoryData<string, int[], int[], int, int[], bool> Cases => new()
    {
        // label, x shape, w shape, stride, padding (top, bottom, left, right), bias
        { "3x3 s1 p1", new[] { 1, 3, 7, 7 }, new[] { 5, 3, 3, 3 }, 1, new[] { 1, 1, 1, 1 }, true },
        { "3x3 s2 vqgan-down", new[] { 3, 5, 9, 8 }, new[] { 4, 5, 3, 3 }, 2, new[] { 0, 1, 0, 1 }, true },
        { "1x1 pointwise", new[] { 3, 17, 7, 9 }, new[] { 5, 17, 1, 1 }, 1, new[] { 0, 0, 0, 0 }, true },
        { "1x1 s2 p1", new[] { 1, 3, 9, 7 }, new[] { 17, 3, 1, 1 }, 2, new[] { 1, 1, 1, 1 }, false },
        { "4x4 s2 p1", new[] { 3, 3, 9, 9 }, new[] { 5, 3, 4, 4 }, 2, new[] { 1, 1, 1, 1 }, true },
        { "4x4 s1 p1 patchgan-out", new[] { 1, 5, 7, 9 }, new[] { 1, 5, 4, 4 }, 1, new[] { 1, 1, 1, 1 }, true },
        { "3x5 s3 odd pads", new[] { 2, 3, 7, 9 }, new[] { 2, 3, 3, 5 }, 3, new[] { 2, 0, 1, 3 }, true },
        { "3x3 s1 p0 no bias", new[] { 3, 5, 7, 9 }, new[] { 3, 5, 3, 3 }, 1, new[] { 0, 0, 0, 0 }, false },
        { "3x3 s2 p1 odd", new[] { 1, 17, 9, 7 }, new[] { 3, 17, 3, 3 }, 2, new[] { 1, 1, 1, 1 }, true },
        { "kernel = padded input", new[] { 2, 3, 3, 2 }, new[] { 2, 3, 4, 4 }, 1, new[] { 1, 0, 1, 1 }, true },
    };

    internal static Padding2d Pad(int[] p) => new(p[0], p[1], p[2], p[3]);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Conv2dGradCheck(string label, int[] xs, int[] ws, int stride, int[] pad, bool hasBias)
    {
        var rng = new Rng(8);
        var x = GradCheck.Input(rng, xs);
        var w = GradCheck.Input(rng, ws);
        var inputs = hasBias ? new[] { x, w, GradCheck.Input(rng, ws[0]) } : new[] { x, w };
        GradCheck.Check(t => Ops.Conv2d(t[0], t[1], hasBias ? t[2] : null, stride, Pad(pad)), inputs, label: label);
        // Only some inputs requiring grad: the others get none and the checked one is unchanged.
        var dx = x.Grad!.ToArray();
        w.RequiresGrad = false;
        if (hasBias) inputs[2].RequiresGrad = false;
        x.Grad = null; w.Grad = null;
        var g = new Rng(1).Normal(Ops.Conv2d(x, w, hasBias ? inputs[2] : null, stride, Pad(pad)).Shape);
        Ops.Conv2d(x, w, hasBias ? inputs[2] : null, stride, Pad(pad)).Backward(g);
        Assert.Null(w.Grad);
        Assert.Equal(dx.Length, x.Grad!.Size);
        x.RequiresGrad = false; w.RequiresGrad = true;
        GradCheck.Check(t => Ops.Conv2d(t[0], t[1], null, stride, Pad(pad)), new[] { x, w }, label: label + " (weight only)");
        Assert.Null(x.Grad);
    }

    [Fact]
    public void Conv2dSingleLargeImage()
    {
        // One image in one band: the GEMMs themselves split across cores (forward and backward).
        var rng = new Rng(13);
        var x = GradCheck.Input(rng, 1, 32, 20, 19);
        var w = GradCheck.Input(rng, 40, 32, 3, 3);
        var b = GradCheck.Input(rng, 40);
        AssertClose(RefConv(x, w, b, 1, Padding2d.Same(1), out _), Ops.Conv2d(x, w, b, 1, 1), 1e-5, "1x32x20x19");
        GradCheck.Check(t => Ops.Conv2d(t[0], t[1], t[2], 1, 1), new[] { x, w, b }, maxProbes: 16, label: "1x32x20x19");
    }

    [Fact]
    public void Conv2dLeafGradientsOutliveTheScope()
    {
        var rng = new Rng(14);
        var x = GradCheck.Input(rng, 3, 5, 7, 9);
        var w = GradCheck.Input(rng, 4, 5, 3, 3);
        var b = GradCheck.Input(rng, 4);
        var g = rng.Normal(new[] { 3, 4, 7, 9 });
        Ops.Conv2d(x, w, b, 1, 1).Backward(g);
        var expected = new[] { x.Grad!.ToArray(), w.Grad!.ToArray(), b.Grad!.ToArray() };
        x.Grad = w.Grad = b.Grad = null;
        using (TensorScope.Begin())
        {
            Ops.Conv2d(x, w, b, 1, 1).Backward(g);
            var tmp = Tensor.Full(7f, 3, 5, 7, 9); // pooled buffers in use
        }
        using (TensorScope.Begin()) { Tensor.Full(-1f, 3, 5, 7, 9); Tensor.Full(-1f, 4, 5, 3, 3); } // reuse the pool
        Assert.Equal(expected[0], x.Grad!.ToArray());
        Assert.Equal(expected[1], w.Grad!.ToArray());
        Assert.Equal(expected[2], b.Grad!.ToArray());
        // A second backward accumulates.
        using (TensorScope.Begin()) Ops.Conv2d(x, w, b, 1, 1).Backward(g);
        for (int i = 0; i < expected[1].Length; i++) Assert.Equal(2 * expected[1][i], w.Grad!.Span[i], 1e-5f * (1 + Math.Abs(expected[1][i])));
    }

    [Fact]
    public void Conv2dAsymmetricPaddingEqualsPadThenConv()
    {
        var rng = new Rng(10);
        var x = rng.Normal(new[] { 2, 3, 8, 7 });
        var w = rng.Normal(new[] { 4, 3, 3, 3 });
        var b = rng.Normal(new[] { 4 });
        var p = new Padding2d(0, 1, 0, 1);
        var a = Ops.Conv2d(x, w, b, 2, p);
        var c = Ops.Conv2d(Ops.Pad2d(x, p), w, b, 2, 0);
        Assert.Equal(c.Shape, a.Shape);
        Assert.Equal(new[] { 2, 4, 4, 3 }, a.Shape); // (8+1−3)/2+1, (7+1−3)/2+1
        for (int i = 0; i < a.Size; i++) Assert.Equal(c.Span[i], a.Span[i], 1e-4f);
    }

    [Fact]
    public void Conv2dShapeErrorsNameTheOpAndShapes()
    {
        var x = Tensor.Zeros(2, 3, 5, 5);
        void Throws(Action f, params string[] parts)
        {
            var e = Assert.Throws<ArgumentException>(f);
            foreach (var s in parts) Assert.Contains(s, e.Message);
        }
        Throws(() => Ops.Conv2d(x, Tensor.Zeros(4, 2, 3, 3)), "conv2d", "[2,3,5,5]", "[4,2,3,3]", "channels");
        Throws(() => Ops.Conv2d(Tensor.Zeros(3, 5, 5), Tensor.Zeros(4, 3, 3, 3)), "conv2d", "[3,5,5]");
        Throws(() => Ops.Conv2d(x, Tensor.Zeros(4, 3, 3)), "conv2d", "weight", "[4,3,3]");
        Throws(() => Ops.Conv2d(x, Tensor.Zeros(4, 3, 3, 3), Tensor.Zeros(3)), "conv2d", "bias", "[3]", "[4]");
        Throws(() => Ops.Conv2d(x, Tensor.Zeros(4, 3, 7, 3), null, 1, 0), "conv2d", "kernel 7x3", "larger", "5x5");
        Throws(() => Ops.Conv2d(x, Tensor.Zeros(4, 3, 7, 3), null, 1, new Padding2d(1, 0, 0, 0)), "conv2d", "6x5");
        Throws(() => Ops.Conv2d(x, Tensor.Zeros(4, 3, 3, 3), null, 0, 1), "conv2d", "stride");
        Throws(() => Ops.Conv2d(x, Tensor.Zeros(4, 3, 3, 3), null, 1, -1), "conv2d", "padding");
        Throws(() => Ops.UpsampleNearest2x(Tensor.Zeros(3, 4, 4)), "upsample", "[3,4,4]");
        Throws(() => Ops.Pad2d(Tensor.Zeros(4), new Padding2d(1, 1, 1, 1)), "pad2d", "[4]");
        Throws(() => Ops.Pad2d(x, new Padding2d(-3, -2, 0, 0)), "pad2d", "[2,3,5,5]");
        // The kernel may equal the padded input (one output pixel).
        Assert.Equal(new[] { 2, 4, 1, 1 }, Ops.Conv2d(x, Tensor.Zeros(4, 3, 6, 5), null, 1, new Padding2d(1, 0, 0, 0)).Shape);
    }

    // ---- upsample / pad -----------------------------------------------------------------------------

    [Theory]
    [InlineData(1, 1, 1, 1)]
    [InlineData(2, 3, 7, 5)]
    [InlineData(1, 2, 3, 17)]
    [InlineData(2, 1, 4, 33)]
    public void UpsampleNearest2xForwardAndGradCheck(int n, int c, int h, int w)
    {
        var rng = new Rng(11);
        var x = GradCheck.Input(rng, n, c, h, w);
        var y = Ops.UpsampleNearest2x(x);
        Assert.Equal(new[] { n, c, 2 * h, 2 * w }, y.Shape);
        for (int a = 0; a < n; a++) for (int b = 0; b < c; b++) for (int i = 0; i < 2 * h; i++) for (int j = 0; j < 2 * w; j++)
            Assert.Equal(x[a, b, i / 2, j / 2], y[a, b, i, j]);
        GradCheck.Check(t => Ops.UpsampleNearest2x(t[0]), new[] { x }, label: $"upsample {n}x{c}x{h}x{w}");
        // Backward is the exact 2×2 block sum.
        x.Grad = null;
        var g = rng.Normal(y.Shape);
        Ops.UpsampleNearest2x(x).Backward(g);
        for (int a = 0; a < n; a++) for (int b = 0; b < c; b++) for (int i = 0; i < h; i++) for (int j = 0; j < w; j++)
        {
            double s = (double)g[a, b, 2 * i, 2 * j] + g[a, b, 2 * i, 2 * j + 1] + g[a, b, 2 * i + 1, 2 * j] + g[a, b, 2 * i + 1, 2 * j + 1];
            Assert.Equal(s, x.Grad![a, b, i, j], 1e-5 * (1 + Math.Abs(s)));
        }
    }

    public static TheoryData<int[], int[], float> PadCases => new()
    {
        { new[] { 2, 3, 5, 7 }, new[] { 0, 1, 0, 1 }, 0f },
        { new[] { 1, 2, 3, 17 }, new[] { 2, 1, 3, 0 }, -1.5f },
        { new[] { 3, 7, 4 }, new[] { 1, 2, -1, 2 }, 0.25f },   // crop on the left
        { new[] { 9, 9 }, new[] { -2, -3, -1, -4 }, 0f },      // pure crop, rank 2
        { new[] { 1, 1, 1, 1 }, new[] { 0, 0, 0, 0 }, 3f },    // identity
    };

    [Theory]
    [MemberData(nameof(PadCases))]
    public void Pad2dForwardAndGradCheck(int[] shape, int[] pad, float value)
    {
        var rng = new Rng(12);
        var x = GradCheck.Input(rng, shape);
        var p = Pad(pad);
        var y = Ops.Pad2d(x, p, value);
        int H = shape[^2], W = shape[^1], Ho = H + pad[0] + pad[1], Wo = W + pad[2] + pad[3];
        var ys = (int[])shape.Clone(); ys[^2] = Ho; ys[^1] = Wo;
        Assert.Equal(ys, y.Shape);
        int planes = x.Size / (H * W);
        for (int q = 0; q < planes; q++) for (int i = 0; i < Ho; i++) for (int j = 0; j < Wo; j++)
        {
            int si = i - pad[0], sj = j - pad[2];
            float e = si >= 0 && si < H && sj >= 0 && sj < W ? x.Span[(q * H + si) * W + sj] : value;
            Assert.Equal(e, y.Span[(q * Ho + i) * Wo + j]);
        }
        GradCheck.Check(t => Ops.Pad2d(t[0], p, value), new[] { x }, label: $"pad {ShapeUtil.Format(shape)} {p}");
    }

    // ---- PyTorch parity -----------------------------------------------------------------------------

    /// <summary>Max-abs-error / max-abs-value tolerance against PyTorch's float32 results.</summary>
    private const double ParityTol = 1e-5;

    private static readonly Lazy<Dictionary<string, Tensor>> Fixture =
        new(() => SafeTensors.Load(SafeTensorsTests.DataFile("parity/conv2d.safetensors")));

    private void AssertParity(Tensor expected, Tensor actual, string label)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        double scale = 0, err = 0;
        var e = expected.ReadOnlySpan; var a = actual.ReadOnlySpan;
        for (int i = 0; i < e.Length; i++) { scale = Math.Max(scale, Math.Abs(e[i])); err = Math.Max(err, Math.Abs(e[i] - a[i])); }
        Assert.True(scale > 0, $"{label}: empty reference");
        _out.WriteLine($"{label}: max |err| / max |ref| = {err / scale:G3}");
        Assert.True(err <= ParityTol * scale, $"{label}: max |err| {err:G3} / max |ref| {scale:G3} = {err / scale:G3} > {ParityTol:G2}");
    }

    [Theory]
    [InlineData("c3x3_s1_p1")]
    [InlineData("c3x3_s2_pad0101")]
    [InlineData("c1x1")]
    [InlineData("c4x4_s2_p1")]
    [InlineData("c4x4_s1_p1")]
    public void Conv2dMatchesPyTorch(string name)
    {
        var f = Fixture.Value;
        var meta = SafeTensors.LoadMetadata(SafeTensorsTests.DataFile("parity/conv2d.safetensors"))[name].Split(',').Select(int.Parse).ToArray();
        var x = f[name + ".x"].Clone(); var w = f[name + ".w"].Clone(); var b = f[name + ".b"].Clone();
        x.RequiresGrad = w.RequiresGrad = b.RequiresGrad = true;
        var y = Ops.Conv2d(x, w, b, meta[0], new Padding2d(meta[1], meta[2], meta[3], meta[4]));
        AssertParity(f[name + ".y"], y, name + " y");
        y.Backward(f[name + ".gy"]);
        AssertParity(f[name + ".dx"], x.Grad!, name + " dx");
        AssertParity(f[name + ".dw"], w.Grad!, name + " dw");
        AssertParity(f[name + ".db"], b.Grad!, name + " db");
    }

    [Fact]
    public void UpsampleAndPadMatchPyTorch()
    {
        var f = Fixture.Value;
        var x = f["up.x"].Clone(); x.RequiresGrad = true;
        var y = Ops.UpsampleNearest2x(x);
        AssertParity(f["up.y"], y, "upsample y");
        y.Backward(f["up.gy"]);
        AssertParity(f["up.dx"], x.Grad!, "upsample dx");

        x = f["pad.x"].Clone(); x.RequiresGrad = true;
        y = Ops.Pad2d(x, new Padding2d(0, 3, 2, -1), 0.5f);
        AssertParity(f["pad.y"], y, "pad y");
        y.Backward(f["pad.gy"]);
        AssertParity(f["pad.dx"], x.Grad!, "pad dx");
    }
}

/// <summary>
/// The im2col band size is process-wide (<see cref="Conv2dKernels.ColBandFloats"/>); the tests that set
/// it to one output row run alone.
/// </summary>
[Collection(GlobalKernelSettings.Name)]
public class ConvBandTests
{
    [Theory]
    [MemberData(nameof(ConvTests.Cases), MemberType = typeof(ConvTests))]
    public void Conv2dForwardMatchesFloat64Reference(string label, int[] xs, int[] ws, int stride, int[] pad, bool hasBias)
    {
        var rng = new Rng(7);
        var x = rng.Normal(xs);
        var w = rng.Normal(ws);
        var b = hasBias ? rng.Normal(new[] { ws[0] }) : null;
        var expected = ConvTests.RefConv(x, w, b, stride, ConvTests.Pad(pad), out var shape);
        // One output row per im2col band, and the default band size (several rows or the whole image).
        foreach (int band in new[] { 1, Conv2dKernels.ColBandFloats })
        {
            int saved = Conv2dKernels.ColBandFloats;
            Conv2dKernels.ColBandFloats = band;
            try
            {
                var y = Ops.Conv2d(x, w, b, stride, ConvTests.Pad(pad));
                Assert.Equal(shape, y.Shape);
                ConvTests.AssertClose(expected, y, 1e-5, $"{label} band {band}");
            }
            finally { Conv2dKernels.ColBandFloats = saved; }
        }
    }

    [Fact]
    public void Conv2dGradCheckAcrossBandsAndThreads()
    {
        // Large enough for several images per thread and (with one-row bands) many bands per image.
        var rng = new Rng(9);
        var x = GradCheck.Input(rng, 5, 17, 33, 17);
        var w = GradCheck.Input(rng, 7, 17, 3, 3);
        var b = GradCheck.Input(rng, 7);
        var expected = ConvTests.RefConv(x, w, b, 1, Padding2d.Same(1), out _);
        int saved = Conv2dKernels.ColBandFloats;
        Conv2dKernels.ColBandFloats = 1;
        try
        {
            ConvTests.AssertClose(expected, Ops.Conv2d(x, w, b, 1, 1), 1e-5, "33x17 one-row bands");
            GradCheck.Check(t => Ops.Conv2d(t[0], t[1], t[2], 1, 1), new[] { x, w, b }, maxProbes: 24, label: "33x17");
        }
        finally { Conv2dKernels.ColBandFloats = saved; }
        var dx = x.Grad!.ToArray(); var dw = w.Grad!.ToArray(); var db = b.Grad!.ToArray();
        // Same gradients (up to summation order) with default bands (dW/db reduced over per-thread partials in another grouping).
        GradCheck.Check(t => Ops.Conv2d(t[0], t[1], t[2], 1, 1), new[] { x, w, b }, maxProbes: 8, label: "33x17 default bands");
        for (int i = 0; i < dx.Length; i++) Assert.Equal(dx[i], x.Grad!.Span[i], 3e-5f * (1 + Math.Abs(dx[i])));
        for (int i = 0; i < dw.Length; i++) Assert.Equal(dw[i], w.Grad!.Span[i], 3e-4f * (1 + Math.Abs(dw[i])));
        for (int i = 0; i < db.Length; i++) Assert.Equal(db[i], b.Grad!.Span[i], 3e-4f * (1 + Math.Abs(db[i])));
    }
}

/// <summary>
/// The convolution kernels (im2col, col2im, the GEMMs under them, upsample) at every SIMD width against float64
/// references, switched process-wide, so the class runs alone. Rows are wide enough (W = 37) for whole vectors of
/// every width plus a tail; shapes stay small because a width the CPU lacks runs emulated.
/// </summary>
[Collection(GlobalKernelSettings.Name)]
public class ConvWidthTests
{
    public static TheoryData<int> Widths => SimdWidths.All;

    private static float[] Rand(Random r, int n)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(r.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>Forward and all three gradients of one convolution against float64 sums, relative to each output's largest magnitude.</summary>
    private static void CheckConv(ConvGeom g, string label)
    {
        var r = new Random(g.Cin * 131 + g.W * 7 + g.Stride);
        var x = Rand(r, g.N * g.Cin * g.H * g.W);
        var w = Rand(r, g.Cout * g.K);
        var b = Rand(r, g.Cout);
        var gy = Rand(r, g.N * g.Cout * g.P);
        var y = new float[gy.Length];
        var dx = new float[x.Length]; var dw = new float[w.Length]; var db = new float[b.Length];
        Conv2dKernels.Forward(g, x, w, b, y);
        Conv2dKernels.Backward(g, x, w, gy, dx, dw, db);

        var ry = new double[y.Length]; var rdx = new double[x.Length]; var rdw = new double[w.Length]; var rdb = new double[b.Length];
        for (int n = 0; n < g.N; n++)
            for (int o = 0; o < g.Cout; o++)
                for (int oh = 0; oh < g.Ho; oh++)
                    for (int ow = 0; ow < g.Wo; ow++)
                    {
                        int yi = ((n * g.Cout + o) * g.Ho + oh) * g.Wo + ow;
                        double acc = b[o], gv = gy[yi];
                        rdb[o] += gv;
                        for (int c = 0; c < g.Cin; c++)
                            for (int i = 0; i < g.Kh; i++)
                                for (int j = 0; j < g.Kw; j++)
                                {
                                    int ih = oh * g.Stride + i - g.PadTop, iw = ow * g.Stride + j - g.PadLeft;
                                    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                                    int xi = ((n * g.Cin + c) * g.H + ih) * g.W + iw, wi = ((o * g.Cin + c) * g.Kh + i) * g.Kw + j;
                                    acc += (double)x[xi] * w[wi];
                                    rdx[xi] += gv * w[wi];
                                    rdw[wi] += gv * x[xi];
                                }
                        ry[yi] = acc;
                    }
        Close(ry, y, label + " y"); Close(rdx, dx, label + " dx"); Close(rdw, dw, label + " dw"); Close(rdb, db, label + " db");
    }

    private static void Close(double[] want, float[] got, string label)
    {
        double scale = Math.Max(1e-12, want.Max(Math.Abs)), maxErr = 0;
        for (int i = 0; i < want.Length; i++) maxErr = Math.Max(maxErr, Math.Abs(got[i] - want[i]));
        Assert.True(maxErr <= 1e-5 * scale, $"{label}: max |err| {maxErr:G3} > 1e-5 × max |ref| {scale:G3}");
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void ConvolutionsAtEveryWidth(int bits)
    {
        using var width = SimdWidths.Use(bits);
        CheckConv(ConvGeom.Create(2, 5, 6, 37, 7, 3, 3, 1, 1, 1, 1, 1), $"{bits}-bit 3x3 s1 p1");
        CheckConv(ConvGeom.Create(2, 3, 7, 37, 4, 3, 3, 2, 1, 1, 1, 1), $"{bits}-bit 3x3 s2 p1");
        CheckConv(ConvGeom.Create(2, 3, 9, 38, 5, 4, 4, 2, 1, 1, 1, 1), $"{bits}-bit 4x4 s2 p1");
        CheckConv(ConvGeom.Create(3, 17, 3, 37, 5, 1, 1, 1, 0, 0, 0, 0), $"{bits}-bit 1x1 pointwise");
        CheckConv(ConvGeom.Create(5, 4, 5, 37, 6, 3, 3, 1, 1, 1, 1, 1), $"{bits}-bit 3x3 packed weights"); // images in parallel
        int saved = Conv2dKernels.ColBandFloats;
        Conv2dKernels.ColBandFloats = 1; // one output row per im2col band
        try { CheckConv(ConvGeom.Create(3, 4, 5, 37, 6, 3, 3, 1, 1, 1, 1, 1), $"{bits}-bit 3x3 one-row bands"); }
        finally { Conv2dKernels.ColBandFloats = saved; }
    }

    /// <summary>
    /// The convolutions whose im2col goes straight into the product's packed-B layout (weights packed: images in
    /// parallel), with depth slices shallower than K (a small KC) and bands of one output row, at every kernel shape.
    /// </summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void PackedIm2ColConvolutionsAtEveryWidth(int bits)
    {
        using var width = SimdWidths.Use(bits);
        int saved = Conv2dKernels.ColBandFloats;
        try
        {
            foreach (var (mr, nr) in Gemm.KernelShapes(bits))
            {
                Assert.True(Gemm.Configure(mr, nr, kc: 16, mc: 4 * mr, nc: 2 * nr));
                CheckConv(ConvGeom.Create(5, 4, 5, 37, 6, 3, 3, 1, 1, 1, 1, 1), $"{bits}-bit {mr}x{nr} KC 16 3x3 s1"); // K 36: slices 12, 12, 12
                CheckConv(ConvGeom.Create(5, 3, 8, 21, 5, 4, 4, 2, 1, 1, 1, 1), $"{bits}-bit {mr}x{nr} KC 16 4x4 s2");
                Conv2dKernels.ColBandFloats = 1;
                CheckConv(ConvGeom.Create(5, 4, 6, 11, 6, 3, 3, 1, 1, 1, 1, 1), $"{bits}-bit {mr}x{nr} KC 16 one-row bands");
                Conv2dKernels.ColBandFloats = saved;
            }
        }
        finally { Gemm.Configure(0); Conv2dKernels.ColBandFloats = saved; }
    }

    /// <summary>
    /// im2col into the packed-B layout puts every value exactly where the layout says, for panel widths that split
    /// output rows anywhere (rows of 1–40 and 64 pixels; bands that start mid-image; stride 1 and 2; padding 0, 1 and
    /// 2; several depth slices), and zeros past the last column; NaN-filled first, so nothing is left unwritten.
    /// </summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public unsafe void Im2ColPackedPutsEveryValueWhereTheLayoutSays(int bits)
    {
        using var width = SimdWidths.Use(bits);
        var r = new Random(bits + 3);
        foreach (int w in Enumerable.Range(1, 40).Append(64))
            foreach (var (stride, pad) in new[] { (1, 1), (2, 1), (1, 0), (1, 2), (2, 2) })
                foreach (var (nr, depth) in new[] { (48, 18), (32, 18), (24, 7), (16, 7), (12, 18), (8, 5) })
                {
                    if (w + 2 * pad < 3) continue;
                    var g = ConvGeom.Create(1, 2, 5, w, 1, 3, 3, stride, pad, pad, pad, pad);
                    var x = Rand(r, g.Cin * g.H * g.W);
                    int oh0 = g.Ho > 1 ? 1 : 0, oh1 = g.Ho, pc = (oh1 - oh0) * g.Wo;
                    var col = new float[g.K * pc];
                    Conv2dKernels.Im2Col(g, x, oh0, oh1, col);
                    var layout = new Gemm.PackedBLayout(g.K, pc, nr, depth);
                    var packed = new float[layout.Floats];
                    Array.Fill(packed, float.NaN);
                    fixed (float* px = x, pp = packed) Conv2dKernels.Im2ColPacked(g, px, oh0, oh1, layout, pp);
                    var seen = new bool[packed.Length];
                    for (int k = 0; k < g.K; k++)
                        for (int p = 0; p < layout.NRound; p++)
                        {
                            long at = layout.Offset(k, p);
                            float want = p < pc ? col[k * pc + p] : 0f;
                            Assert.True(want.Equals(packed[at]), $"{bits}-bit W {w} stride {stride} pad {pad} NR {nr} depth {depth}: ({k}, {p}) is {packed[at]}, not {want}");
                            seen[at] = true;
                        }
                    Assert.All(seen, Assert.True); // the layout is a one-to-one map onto the buffer
                }
    }

    /// <summary>
    /// im2col written as the packed A of the weight gradient's product holds exactly what PackA makes of the im2col
    /// matrix, for every sliver height of the width's kernels (taps past K zero), rows of 1–40 and 64 pixels (runs
    /// that end mid-transpose), padding 0–2, 3×3 and 1×3 kernels, and depth slices that cut output rows anywhere;
    /// NaN-filled first, so nothing is left unwritten.
    /// </summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public unsafe void Im2ColPackedAIsWhatPackAMakesOfIm2Col(int bits)
    {
        using var width = SimdWidths.Use(bits);
        var r = new Random(bits + 7);
        foreach (var (mr, _) in Gemm.KernelShapes(bits))
            foreach (int w in Enumerable.Range(1, 40).Append(64))
                foreach (var (cin, kh, kw, pad) in new[] { (1, 3, 3, 1), (2, 3, 3, 0), (3, 3, 3, 2), (2, 1, 3, 1) })
                    foreach (int depth in new[] { 5, 18, 1000 })
                    {
                        if (w + 2 * pad < kw) continue;
                        var g = ConvGeom.Create(1, cin, 5, w, 1, kh, kw, 1, pad, pad, pad, pad);
                        var x = Rand(r, g.Cin * g.H * g.W);
                        int oh0 = g.Ho > 1 ? 1 : 0, oh1 = g.Ho, pc = (oh1 - oh0) * g.Wo, mRound = (g.K + mr - 1) / mr * mr;
                        int kc = Math.Min(depth, pc);
                        var col = new float[g.K * pc];
                        Conv2dKernels.Im2Col(g, x, oh0, oh1, col);
                        var want = new float[mRound * pc];
                        var got = new float[mRound * pc];
                        Array.Fill(got, float.NaN);
                        fixed (float* pcol = col, pw = want, pg = got, px = x)
                        {
                            for (int p0 = 0; p0 < pc; p0 += kc)
                                GemmPacking.PackA(false, pcol, pc, 0, p0, g.K, Math.Min(kc, pc - p0), mr, 1f, pw + (long)p0 * mRound);
                            Conv2dKernels.Im2ColPackedA(g, px, oh0, oh1, mr, kc, pg);
                        }
                        for (int i = 0; i < want.Length; i++)
                            Assert.True(want[i].Equals(got[i]), $"{bits}-bit MR {mr} W {w} Cin {cin} {kh}x{kw} pad {pad} depth {kc}: float {i} is {got[i]}, PackA wrote {want[i]}");
                    }
    }

    /// <summary>
    /// im2col at every row length from 1 to 40 (3×3, stride 1 and 2, padding 1): the copies of rows shorter than a
    /// vector and the overlapping tail vectors must write exactly the reference's values, zeros at the borders.
    /// </summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void Im2ColAtEveryRowLength(int bits)
    {
        using var width = SimdWidths.Use(bits);
        var r = new Random(bits + 1);
        for (int w = 1; w <= 40; w++)
            foreach (int stride in new[] { 1, 2 })
            {
                var g = ConvGeom.Create(1, 2, 3, w, 1, 3, 3, stride, 1, 1, 1, 1);
                var x = Rand(r, g.Cin * g.H * g.W);
                var col = new float[g.K * g.P];
                Array.Fill(col, float.NaN); // every element must be written
                Conv2dKernels.Im2Col(g, x, 0, g.Ho, col);
                for (int c = 0; c < g.Cin; c++)
                    for (int i = 0; i < 3; i++)
                        for (int j = 0; j < 3; j++)
                            for (int oh = 0; oh < g.Ho; oh++)
                                for (int ow = 0; ow < g.Wo; ow++)
                                {
                                    int ih = oh * stride + i - 1, iw = ow * stride + j - 1;
                                    float want = ih < 0 || ih >= g.H || iw < 0 || iw >= g.W ? 0f : x[(c * g.H + ih) * g.W + iw];
                                    Assert.True(want == col[((c * 3 + i) * 3 + j) * g.P + oh * g.Wo + ow],
                                        $"{bits}-bit W {w} stride {stride}: col[{c},{i},{j}][{oh},{ow}] is {col[((c * 3 + i) * 3 + j) * g.P + oh * g.Wo + ow]}, not {want}");
                                }
            }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void UpsampleAtEveryWidth(int bits)
    {
        using var width = SimdWidths.Use(bits);
        int planes = 3, H = 2, W = 37;
        var r = new Random(5);
        var x = Rand(r, planes * H * W);
        var y = new float[4 * x.Length];
        Conv2dKernels.UpsampleNearest2x(x, y, planes, H, W);
        for (int p = 0; p < planes; p++) for (int i = 0; i < 2 * H; i++) for (int j = 0; j < 2 * W; j++)
            Assert.Equal(x[(p * H + i / 2) * W + j / 2], y[(p * 2 * H + i) * 2 * W + j]);
        var g = Rand(r, y.Length);
        var dx = new float[x.Length];
        Conv2dKernels.UpsampleNearest2xBackward(g, dx, planes, H, W);
        for (int p = 0; p < planes; p++) for (int i = 0; i < H; i++) for (int j = 0; j < W; j++)
        {
            int g0 = (p * 2 * H + 2 * i) * 2 * W + 2 * j, g1 = g0 + 2 * W;
            Assert.Equal((g[g0] + g[g1]) + (g[g0 + 1] + g[g1 + 1]), dx[(p * H + i) * W + j]); // every width sums in this order
        }
    }
}

/// <summary>
/// The convolution's backward split across threads: dW and db sum over fixed chunks of images, and each image's
/// dx is an item of its own. Changes the global Par.Threads, so the class runs alone.
/// </summary>
[Collection(GlobalKernelSettings.Name)]
public class ConvBackwardAcrossThreadsTests
{
    [Theory]
    [InlineData(1)] // stride 1: dx as a transposed convolution
    [InlineData(2)] // stride 2: dcol and col2im
    public void EachImagesDxIsTheSameOnAnyThreadCountAndWithoutTheWeightGradient(int stride)
    {
        var rng = new Rng(21);
        var g = ConvGeom.Create(7, 5, 12, 11, 6, 3, 3, stride, 1, 1, 1, 1);
        var x = rng.Normal(new[] { g.N * g.Cin * g.H * g.W }).ToArray();
        var w = rng.Normal(new[] { g.Cout * g.K }).ToArray();
        var gy = rng.Normal(new[] { g.N * g.Cout * g.P }).ToArray();
        (float[] Dx, float[] Dw, float[] Db) Run(int threads, bool weights)
        {
            var dx = new float[x.Length];
            var dw = weights ? new float[w.Length] : Array.Empty<float>();
            var db = weights ? new float[g.Cout] : Array.Empty<float>();
            Kernels.Cpu.Par.Threads = threads;
            Conv2dKernels.Backward(g, x, w, gy, dx, dw, db);
            return (dx, dw, db);
        }
        int saved = Kernels.Cpu.Par.Threads;
        try
        {
            var serial = Run(1, true);
            foreach (int threads in new[] { 2, 3, 5 })
            {
                var all = Run(threads, true);
                var dxOnly = Run(threads, false);
                Assert.Equal(Run(2, true).Dx, all.Dx);  // each image's dx does not depend on who computes it
                Assert.Equal(all.Dx, dxOnly.Dx);         // nor on whether dW is wanted
                for (int i = 0; i < x.Length; i++) Assert.Equal(serial.Dx[i], all.Dx[i], 1e-4f * (1 + Math.Abs(serial.Dx[i])));
                for (int i = 0; i < w.Length; i++) Assert.Equal(serial.Dw[i], all.Dw[i], 1e-4f * (1 + Math.Abs(serial.Dw[i])));
                for (int i = 0; i < g.Cout; i++) Assert.Equal(serial.Db[i], all.Db[i], 1e-4f * (1 + Math.Abs(serial.Db[i])));
            }
        }
        finally { Kernels.Cpu.Par.Threads = saved; }
    }

    /// <summary>
    /// On one thread the weight gradient of a stride-1 convolution packs its im2col matrix as the product's A while
    /// making it; dW must be bit for bit what im2col and the plain product give, at every width.
    /// </summary>
    [Theory]
    [MemberData(nameof(ConvWidthTests.Widths), MemberType = typeof(ConvWidthTests))]
    public void WeightGradientWithIm2ColPackedAsAIsBitIdentical(int bits)
    {
        using var width = SimdWidths.Use(bits);
        var rng = new Rng(23);
        var g = ConvGeom.Create(1, 7, 29, 31, 9, 3, 3, 1, 1, 1, 1, 1); // P 899: two depth slices at every width's KC; Cout 9: no width multiplies it directly
        var x = rng.Normal(new[] { g.Cin * g.H * g.W }).ToArray();
        var w = rng.Normal(new[] { g.Cout * g.K }).ToArray();
        var gy = rng.Normal(new[] { g.Cout * g.P }).ToArray();
        var col = new float[g.K * g.P];
        Conv2dKernels.Im2Col(g, x, 0, g.Ho, col);
        var dwT = new float[g.K * g.Cout];
        Gemm.Sgemm(false, true, g.K, g.Cout, g.P, 1f, col, g.P, gy, g.P, 1f, dwT, g.Cout, parallel: false);
        var dw = new float[w.Length];
        int saved = Kernels.Cpu.Par.Threads;
        try
        {
            Kernels.Cpu.Par.Threads = 1;
            Conv2dKernels.Backward(g, x, w, gy, Array.Empty<float>(), dw, Array.Empty<float>());
        }
        finally { Kernels.Cpu.Par.Threads = saved; }
        for (int k = 0; k < g.K; k++)
            for (int o = 0; o < g.Cout; o++)
                Assert.True(dwT[k * g.Cout + o].Equals(dw[o * g.K + k]), $"{bits}-bit dW[{o}, {k}] is {dw[o * g.K + k]}, im2col and the product give {dwT[k * g.Cout + o]}");
    }
}
