using Crt.Tensors;
using Xunit;

namespace Crt.Tensors.Tests;

public class CoreTests
{
    [Fact]
    public void SameSeedGivesSameNumbers()
    {
        var a = new Rng(42).Normal(new[] { 1000 }).ToArray();
        var b = new Rng(42).Normal(new[] { 1000 }).ToArray();
        var c = new Rng(43).Normal(new[] { 1000 }).ToArray();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        double mean = a.Average(), var = a.Select(v => (v - mean) * (v - mean)).Average();
        Assert.InRange(mean, -0.1, 0.1);
        Assert.InRange(var, 0.9, 1.1);
    }

    [Fact]
    public void RngStateRoundTrips()
    {
        var r = new Rng(7);
        r.NextNormal();
        var state = r.GetState();
        var expected = r.Normal(new[] { 5 }).ToArray();
        var r2 = new Rng(0);
        r2.SetState(state);
        Assert.Equal(expected, r2.Normal(new[] { 5 }).ToArray());
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(1e-300)] // p·2⁵³ far from an integer: the comparison must still be NextDouble's
    public void FillBelowIsTheLoopOfNextDoubleDrawForDraw(double p)
    {
        var loop = new Rng(11);
        loop.NextNormal(); // a spare normal in the state: FillBelow must leave it alone
        var filled = new Rng(11);
        filled.NextNormal();
        var expected = new float[1003];
        for (int i = 0; i < expected.Length; i++) expected[i] = loop.NextDouble() < p ? 0f : 1.25f;
        var actual = new float[1003];
        filled.FillBelow(actual, p, 0f, 1.25f);
        Assert.Equal(expected, actual);
        Assert.Equal(loop.GetState(), filled.GetState()); // the stream goes on from the same place
        Assert.Equal(loop.NextNormal(), filled.NextNormal());
    }

    [Fact]
    public void MultinomialFollowsWeights()
    {
        var r = new Rng(3);
        var counts = new int[3];
        for (int i = 0; i < 30000; i++) counts[r.SampleIndex(new float[] { 1, 0, 3 })]++;
        Assert.Equal(0, counts[1]);
        Assert.InRange(counts[2] / 30000.0, 0.73, 0.77);
    }

    [Fact]
    public void ScopeReturnsBuffersAndKeepSurvives()
    {
        Tensor temp, kept;
        float[] buffer;
        using (TensorScope.Begin())
        {
            temp = Tensor.Zeros(17, 3);
            buffer = temp.Storage;
            kept = Tensor.Full(2f, 4).Keep();
        }
        Assert.Throws<ObjectDisposedException>(() => temp.Storage);
        Assert.Equal(2f, kept[3]);
        using (TensorScope.Begin())
        {
            var again = Tensor.Empty(17, 3);
            Assert.Same(buffer, again.Storage); // steady state: the step reuses the returned buffer
        }
    }

    [Fact]
    public void ViewIsReleasedWithItsSource()
    {
        Tensor view;
        using (TensorScope.Begin())
        {
            var t = Tensor.Zeros(2, 3);
            view = t.Detach();
        }
        Assert.Throws<ObjectDisposedException>(() => view.Storage);
    }

    [Fact]
    public void ShapeErrorsNameTheOp()
    {
        var ex = Assert.Throws<ArgumentException>(() => ShapeUtil.Broadcast(new[] { 2, 3 }, new[] { 4, 3 }, "add"));
        Assert.Contains("add: shapes [2,3] and [4,3]", ex.Message);
    }
}

public class FlopCounterTests
{
    [Fact]
    public void CountsMatrixProductsOfTheForwardPassOnly()
    {
        var rng = new Rng(1);
        var x = GradCheck.Input(rng, 4, 5);
        var w = GradCheck.Input(rng, 3, 5);
        var img = GradCheck.Input(rng, 2, 3, 8, 8);
        var k = GradCheck.Input(rng, 4, 3, 3, 3);
        var q = GradCheck.Input(rng, 1, 2, 6, 8);
        double total;
        using (var outer = FlopCounter.Begin())
        {
            using (var inner = FlopCounter.Begin())
            {
                var y = Ops.Linear(x, w);                                  // 2·4·5·3 = 120
                Assert.Equal(120, inner.Flops);
                Ops.Sum(y).Backward();                                    // backward is not counted
                Assert.Equal(120, inner.Flops);
            }
            Ops.MatMul(x, Ops.Transpose(w, 0, 1));                          // 120
            Ops.Conv2d(img, k, null, 1, 1);                               // 2·2·4·8·8·(3·3·3) = 27648
            Ops.ScaledDotProductAttention(q, q, q, causal: true);          // 4·2·6·6·8 = 2304
            total = outer.Flops;
        }
        Assert.Equal(120 + 120 + 27648 + 2304, total);
        Ops.Linear(x, w); // no counter active: nothing to observe, and nothing breaks
    }
}

public class BackwardGradientTests
{
    [Fact]
    public void CallersGradientIsReadNotAdoptedOrChanged()
    {
        var rng = new Rng(3);
        var x = rng.Normal(new[] { 4, 6 }); x.RequiresGrad = true;
        var g = rng.Normal(new[] { 24 });
        var before = g.ToArray();

        // reshape hands its gradient on: the leaf must get a copy, not a view of the caller's tensor
        Ops.Reshape(x, 24).Backward(g);
        Assert.Equal(before, x.Grad!.ToArray());
        Ops.Reshape(x, 24).Backward(g); // accumulates into x.Grad ...
        Assert.Equal(before, g.ToArray()); // ... and never into g
        Assert.Equal(before.Select(v => 2 * v).ToArray(), x.Grad!.ToArray());

        // a chain: the interior reshape's gradient is a copy too
        x.Grad = null;
        Ops.Reshape(Ops.Reshape(Ops.MulScalar(x, 1f), 6, 4), 24).Backward(g);
        Ops.Reshape(Ops.Reshape(Ops.MulScalar(x, 1f), 6, 4), 24).Backward(g);
        Assert.Equal(before, g.ToArray());
        Assert.Equal(before.Select(v => 2 * v).ToArray(), x.Grad!.ToArray());

        // a leaf as the root keeps its own gradient buffer
        var leaf = rng.Normal(new[] { 24 }); leaf.RequiresGrad = true;
        leaf.Backward(g);
        leaf.Backward(g);
        Assert.Equal(before, g.ToArray());
        Assert.Equal(before.Select(v => 2 * v).ToArray(), leaf.Grad!.ToArray());
    }
}
