using Crt.Tensors;
using Xunit;

namespace Crt.Tensors.Tests;

public class ArithmeticTests
{
    public static TheoryData<int[], int[]> BroadcastPairs => new()
    {
        { new[] { 7 }, new[] { 7 } },
        { new[] { 3, 17 }, new[] { 17 } },
        { new[] { 3, 1 }, new[] { 1, 5 } },
        { new[] { 2, 3, 4, 5 }, new[] { 1, 3, 1, 1 } },
        { new[] { 2, 1, 33 }, new[] { 4, 1 } },
        { new[] { 1 }, new[] { 2, 3 } },
        { new[] { 5, 3 }, new int[0] },
    };

    [Theory]
    [MemberData(nameof(BroadcastPairs))]
    public void BinaryOpsMatchReferenceAndGradCheck(int[] sa, int[] sb)
    {
        var rng = new Rng(5);
        foreach (var (name, f, r) in new (string, Func<Tensor, Tensor, Tensor>, Func<double, double, double>)[]
        {
            ("add", Ops.Add, (x, y) => x + y), ("sub", Ops.Sub, (x, y) => x - y),
            ("mul", Ops.Mul, (x, y) => x * y), ("div", Ops.Div, (x, y) => x / y),
        })
        {
            var a = GradCheck.Input(rng, sa);
            var b = GradCheck.Input(rng, sb);
            if (name == "div") { var bs = b.Span; for (int i = 0; i < bs.Length; i++) bs[i] = 1.5f + Math.Abs(bs[i]); }
            var y = f(a, b);
            var shape = ShapeUtil.Broadcast(sa, sb, name);
            Assert.Equal(shape, y.Shape);
            var aStr = Kernels.Cpu.Broadcast.BroadcastStrides(sa, shape);
            var bStr = Kernels.Cpu.Broadcast.BroadcastStrides(sb, shape);
            var outStr = ShapeUtil.Strides(shape);
            for (int i = 0; i < y.Size; i++)
            {
                int ia = 0, ib = 0, rem = i;
                for (int d = 0; d < shape.Length; d++) { int k = rem / outStr[d]; rem %= outStr[d]; ia += k * aStr[d]; ib += k * bStr[d]; }
                double expected = r(a.Span[ia], b.Span[ib]);
                Assert.True(Math.Abs(expected - y.Span[i]) <= 1e-6 * (1 + Math.Abs(expected)), $"{name} element {i}: {y.Span[i]} vs {expected}");
            }
            GradCheck.Check(t => f(t[0], t[1]), new[] { a, b }, label: $"{name} {ShapeUtil.Format(sa)} {ShapeUtil.Format(sb)}");
        }
    }

    [Fact]
    public void UnaryOpsGradCheck()
    {
        var rng = new Rng(2);
        foreach (var shape in new[] { new[] { 1 }, new[] { 7 }, new[] { 3, 33 } })
        {
            var pos = rng.Uniform(shape, 0.5f, 2f); pos.RequiresGrad = true;
            var x = GradCheck.Input(rng, shape);
            GradCheck.Check(t => Ops.Exp(t[0]), new[] { x }, label: "exp");
            GradCheck.Check(t => Ops.Log(t[0]), new[] { pos }, label: "log");
            GradCheck.Check(t => Ops.Sqrt(t[0]), new[] { pos }, label: "sqrt");
            GradCheck.Check(t => Ops.Pow(t[0], 1.7f), new[] { pos }, label: "pow");
            GradCheck.Check(t => Ops.Square(t[0]), new[] { x }, label: "square");
            GradCheck.Check(t => Ops.Abs(t[0]), new[] { pos }, label: "abs");
            GradCheck.Check(t => Ops.Clamp(t[0], 0.4f, 3f), new[] { pos }, label: "clamp");
            GradCheck.Check(t => t[0] * 3f + 1f, new[] { x }, label: "scalar");
            GradCheck.Check(t => -t[0], new[] { x }, label: "neg");
        }
    }

    [Fact]
    public void GradientsAccumulateAcrossUsesAndCalls()
    {
        var x = Tensor.From(new float[] { 1, 2, 3 }, 3);
        x.RequiresGrad = true;
        Ops.Sum(x * x + x).Backward(); // d/dx = 2x + 1
        Assert.Equal(new float[] { 3, 5, 7 }, x.Grad!.ToArray());
        Ops.Sum(x).Backward();
        Assert.Equal(new float[] { 4, 6, 8 }, x.Grad!.ToArray());
        x.ZeroGrad();
        Assert.Null(x.Grad);
    }

    [Fact]
    public void StraightThroughEstimatorPassesGradientUnchanged()
    {
        // x + (q - x).Detach(): value of q, gradient of identity into x
        var x = Tensor.From(new float[] { 0.2f, 0.7f }, 2);
        x.RequiresGrad = true;
        var q = Tensor.From(new float[] { 0f, 1f }, 2);
        var st = x + (q - x).Detach();
        Assert.Equal(new float[] { 0f, 1f }, st.ToArray());
        Ops.Sum(st * Tensor.From(new float[] { 3, 4 }, 2)).Backward();
        Assert.Equal(new float[] { 3, 4 }, x.Grad!.ToArray());
    }

    [Fact]
    public void NoGradRecordsNothing()
    {
        var x = Tensor.Ones(2); x.RequiresGrad = true;
        Tensor y;
        using (Tensor.NoGrad()) y = x * 2f;
        Assert.False(y.RequiresGrad);
        Assert.Throws<InvalidOperationException>(() => y.Backward(Tensor.Ones(2)));
    }

    [Fact]
    public void TrainingStepInsideScopeKeepsLeafGradients()
    {
        var w = Tensor.From(new float[] { 1, -2 }, 2); w.RequiresGrad = true;
        float loss;
        using (TensorScope.Begin())
        {
            var l = Ops.Sum(Ops.Square(w * 3f));
            l.Backward();
            loss = l.Item();
        }
        Assert.Equal(45f, loss);
        Assert.Equal(new float[] { 18, -36 }, w.Grad!.ToArray()); // survived the scope
    }

    [Fact]
    public void BroadcastErrorIsClear()
    {
        var ex = Assert.Throws<ArgumentException>(() => Ops.Add(Tensor.Zeros(2, 3), Tensor.Zeros(4)));
        Assert.Equal("add: shapes [2,3] and [4] cannot be broadcast (dimension 1: 3 vs 4)", ex.Message);
    }
}
