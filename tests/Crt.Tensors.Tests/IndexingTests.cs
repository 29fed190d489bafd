using Crt.Tensors;
using Xunit;

namespace Crt.Tensors.Tests;

public class IndexingTests
{
    [Fact]
    public void EmbeddingPicksRowsAndScattersGradientsWithRepeats()
    {
        var rng = new Rng(3);
        var w = GradCheck.Input(rng, 7, 5);
        int[] ids = { 6, 0, 6, 2, 1, 3 };
        var y = Ops.Embedding(w, ids, new[] { 2, 3 });
        Assert.Equal(new[] { 2, 3, 5 }, y.Shape);
        for (int i = 0; i < ids.Length; i++)
            for (int d = 0; d < 5; d++) Assert.Equal(w[ids[i], d], y.Span[i * 5 + d]);
        GradCheck.Check(t => Ops.Embedding(t[0], ids, new[] { 2, 3 }), new[] { w }, label: "embedding");
        var err = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Embedding(w, new[] { 7 }, new[] { 1 }));
        Assert.Contains("index 7", err.Message);
        Assert.Throws<ArgumentException>(() => Ops.Embedding(w, ids, new[] { 4 }));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void IndexSelectMatchesLoopsAndGradChecks(int axis)
    {
        var rng = new Rng(4);
        var x = GradCheck.Input(rng, 3, 5, 17);
        int n = x.Shape[axis];
        int[] index = { n - 1, 0, n - 1, 1 };
        var y = Ops.IndexSelect(x, axis, index);
        for (int a = 0; a < y.Shape[0]; a++)
            for (int b = 0; b < y.Shape[1]; b++)
                for (int c = 0; c < y.Shape[2]; c++)
                {
                    var src = new[] { a, b, c };
                    src[axis] = index[src[axis]];
                    Assert.Equal(x[src], y[a, b, c]);
                }
        GradCheck.Check(t => Ops.IndexSelect(t[0], axis, index), new[] { x }, label: $"index_select {axis}");
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.IndexSelect(x, axis, new[] { n }));
    }

    [Fact]
    public void GatherFollowsTorchSemantics()
    {
        var rng = new Rng(5);
        var x = GradCheck.Input(rng, 3, 4);
        // torch.gather(x, 1, [[3,0],[1,1],[2,3]])
        int[] idx = { 3, 0, 1, 1, 2, 3 };
        var y = Ops.Gather(x, 1, idx, new[] { 3, 2 });
        Assert.Equal(new[] { x[0, 3], x[0, 0], x[1, 1], x[1, 1], x[2, 2], x[2, 3] }, y.ToArray());
        // along axis 0 with a smaller index tensor in the other dim
        var z = Ops.Gather(x, 0, new[] { 2, 0, 1 }, new[] { 1, 3 });
        Assert.Equal(new[] { x[2, 0], x[0, 1], x[1, 2] }, z.ToArray());
        GradCheck.Check(t => Ops.Gather(t[0], 1, idx, new[] { 3, 2 }), new[] { x }, label: "gather");
        Assert.Throws<ArgumentException>(() => Ops.Gather(x, 1, idx, new[] { 6 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Gather(x, 1, new[] { 4 }, new[] { 1, 1 }));
    }

    [Fact]
    public void DropoutZeroesAboutPAndScalesTheRestAndIsReproducible()
    {
        var x = new Rng(6).Normal(new[] { 100, 101 });
        x.RequiresGrad = true;
        var y = Ops.Dropout(x, 0.3f, training: true, new Rng(7));
        var ya = y.ToArray(); var xa = x.ToArray();
        int zeros = 0;
        for (int i = 0; i < ya.Length; i++)
        {
            if (ya[i] == 0f) zeros++;
            else Assert.Equal(xa[i] / 0.7, ya[i], tolerance: 1e-5 * Math.Max(1, Math.Abs(ya[i])));
        }
        Assert.InRange(zeros / (double)ya.Length, 0.28, 0.32);
        Assert.Equal(ya, Ops.Dropout(x, 0.3f, true, new Rng(7)).ToArray());
        // The gradient uses the same mask: g·mask.
        y.Backward(Tensor.Ones(x.Shape));
        var gx = x.Grad!.ToArray();
        for (int i = 0; i < ya.Length; i++) Assert.Equal(ya[i] == 0f ? 0 : 1 / 0.7, gx[i], tolerance: 1e-5);
        Assert.Same(x, Ops.Dropout(x, 0.3f, training: false));
        Assert.All(Ops.Dropout(x, 1f, true, new Rng(1)).ToArray(), v => Assert.Equal(0f, v));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Dropout(x, 1.5f, true));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    [InlineData(0)]
    public void L2NormalizeGivesUnitVectorsAndGradChecks(int axis)
    {
        var rng = new Rng(8);
        var x = GradCheck.Input(rng, 3, 8, 5);
        var y = Ops.L2Normalize(x, axis);
        var (outer, n, inner, _) = Ops.AxisSplit(x, axis, true, "test");
        var ya = y.ToArray(); var xa = x.ToArray();
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double ss = 0;
                for (int j = 0; j < n; j++) ss += (double)xa[(o * n + j) * inner + i] * xa[(o * n + j) * inner + i];
                for (int j = 0; j < n; j++) Assert.Equal(xa[(o * n + j) * inner + i] / Math.Sqrt(ss), ya[(o * n + j) * inner + i], 5);
            }
        GradCheck.Check(t => Ops.L2Normalize(t[0], axis), new[] { x }, label: $"l2 normalize {axis}");
    }

    [Fact]
    public void L2NormalizeOfATinyVectorDividesByEps()
    {
        var x = Tensor.From(new float[] { 0f, 0f, 0f, 3f, 4f, 0f }, 2, 3);
        x.RequiresGrad = true;
        var y = Ops.L2Normalize(x, -1, eps: 1e-3f);
        Assert.Equal(new float[] { 0, 0, 0, 0.6f, 0.8f, 0 }, y.ToArray());
        y.Backward(Tensor.Ones(2, 3));
        Assert.Equal(1000f, x.Grad!.Span[0], 2); // clamped: g / eps
    }
}
