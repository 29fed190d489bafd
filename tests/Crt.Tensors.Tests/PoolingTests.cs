using Crt.Tensors;
using Xunit;

namespace Crt.Tensors.Tests;

public class PoolingTests
{
    [Theory]
    [InlineData(2, 3, 8, 8, 2, 2)]
    [InlineData(1, 5, 7, 9, 2, 2)]
    [InlineData(2, 1, 9, 7, 3, 2)]
    [InlineData(1, 2, 5, 5, 3, 1)]
    public void PoolsMatchLoopsAndGradCheck(int n, int c, int h, int w, int k, int s)
    {
        var rng = new Rng(3);
        var x = GradCheck.Input(rng, n, c, h, w);
        var mx = Ops.MaxPool2d(x, k, s); var av = Ops.AvgPool2d(x, k, s);
        int ho = (h - k) / s + 1, wo = (w - k) / s + 1;
        Assert.Equal(new[] { n, c, ho, wo }, mx.Shape);
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++)
                    {
                        float best = float.NegativeInfinity; double sum = 0;
                        for (int dy = 0; dy < k; dy++)
                            for (int dx = 0; dx < k; dx++) { float v = x[i, ch, oy * s + dy, ox * s + dx]; best = Math.Max(best, v); sum += v; }
                        Assert.Equal(best, mx[i, ch, oy, ox]);
                        Assert.Equal(sum / (k * k), av[i, ch, oy, ox], 5);
                    }
        GradCheck.Check(t => Ops.MaxPool2d(t[0], k, s), new[] { x }, label: "max_pool2d");
        GradCheck.Check(t => Ops.AvgPool2d(t[0], k, s), new[] { x }, label: "avg_pool2d");
    }

    /// <summary>Padded pools (the FID Inception's 3×3 stride-1 padding-1 average without/with the padding counted, max) and bilinear resizing against tools/parity/make_pool_resize.py.</summary>
    [Theory]
    [InlineData("avg3_p1_exclude")]
    [InlineData("avg3_p1_include")]
    [InlineData("max3_p1")]
    [InlineData("avg3_s2_p1_exclude")]
    [InlineData("max2_s2_p1")]
    [InlineData("resize_up_6x5_to_23x17")]
    [InlineData("resize_down_9x11_to_4x5")]
    [InlineData("resize_mixed_7x4_to_3x10")]
    [InlineData("resize_13_to_75")]
    public void PaddedPoolsAndBilinearResizeMatchPyTorch(string name)
    {
        var f = Parity.Load("pool_resize");
        var x = f[name + ".x"].Clone();
        x.RequiresGrad = true;
        var expected = f[name + ".y"];
        Func<Tensor, Tensor> op = name switch
        {
            "avg3_p1_exclude" => t => Ops.AvgPool2d(t, 3, 1, 1, countIncludePad: false),
            "avg3_p1_include" => t => Ops.AvgPool2d(t, 3, 1, 1, countIncludePad: true),
            "max3_p1" => t => Ops.MaxPool2d(t, 3, 1, 1),
            "avg3_s2_p1_exclude" => t => Ops.AvgPool2d(t, 3, 2, 1, countIncludePad: false),
            "max2_s2_p1" => t => Ops.MaxPool2d(t, 2, 2, 1),
            _ => t => Ops.ResizeBilinear(t, expected.Shape[2], expected.Shape[3]),
        };
        var y = op(x);
        Parity.AssertClose(expected, y, 1e-6, name);
        y.Backward(f[name + ".gy"]);
        Parity.AssertClose(f[name + ".dx"], x.Grad!, 1e-5, name + " dx");
        GradCheck.Check(t => op(t[0]), new[] { GradCheck.Input(new Rng(5), x.Shape) }, label: name);
    }

    [Fact]
    public void PaddingIsCheckedAsPyTorchDoes()
    {
        var x = Tensor.Zeros(1, 1, 4, 4);
        Assert.Contains("padding 2", Assert.Throws<ArgumentException>(() => Ops.AvgPool2d(x, 3, 1, 2)).Message);
        Assert.Throws<ArgumentException>(() => Ops.MaxPool2d(x, 3, 1, -1));
        Assert.Equal(new[] { 1, 1, 4, 4 }, Ops.MaxPool2d(x, 3, 1, 1).Shape);
        Assert.Equal(new[] { 1, 1, 1, 1 }, Ops.AvgPool2d(Tensor.Zeros(1, 1, 1, 1), 3, 1, 1, countIncludePad: false).Shape);
        Assert.Throws<ArgumentException>(() => Ops.ResizeBilinear(x, 0, 3));
        Assert.Throws<ArgumentException>(() => Ops.ResizeBilinear(Tensor.Zeros(4, 4), 2, 2));
    }

    [Fact]
    public void PoolingRejectsWindowsThatDoNotFit()
    {
        var err = Assert.Throws<ArgumentException>(() => Ops.MaxPool2d(Tensor.Zeros(1, 1, 1, 3), 2));
        Assert.Contains("does not fit", err.Message);
        Assert.Throws<ArgumentException>(() => Ops.AvgPool2d(Tensor.Zeros(2, 3), 2));
    }
}
