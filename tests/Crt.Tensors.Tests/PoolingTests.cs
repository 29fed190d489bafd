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

    [Fact]
    public void PoolingRejectsWindowsThatDoNotFit()
    {
        var err = Assert.Throws<ArgumentException>(() => Ops.MaxPool2d(Tensor.Zeros(1, 1, 1, 3), 2));
        Assert.Contains("does not fit", err.Message);
        Assert.Throws<ArgumentException>(() => Ops.AvgPool2d(Tensor.Zeros(2, 3), 2));
    }
}
