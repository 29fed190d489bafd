using Crt.Tensors;
using Xunit;

namespace Crt.Tensors.Tests;

public class ReductionAndShapeTests
{
    [Fact]
    public void SumMeanMaxAlongAxes()
    {
        var x = Tensor.From(new float[] { 1, 5, 3, 4, 2, 6 }, 2, 3);
        Assert.Equal(new float[] { 9, 12 }, Ops.Sum(x, 1).ToArray());
        Assert.Equal(new float[] { 2.5f, 3.5f, 4.5f }, Ops.Mean(x, 0).ToArray());
        Assert.Equal(new[] { 2, 1 }, Ops.Mean(x, 1, keepDim: true).Shape);
        Assert.Equal(new float[] { 5, 6 }, Ops.Max(x, -1).ToArray());
        Assert.Equal(new[] { 1, 2 }, Ops.ArgMax(x, 1));
        Assert.Equal(new[] { 0, 1 }, Ops.ArgMin(x, 1));
        Assert.Equal(new[] { 1, 0, 1 }, Ops.ArgMax(x, 0));
        Assert.Equal(21f, Ops.Sum(x).Item());
        Assert.Equal(3.5f, Ops.Mean(x).Item());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void ReductionsGradCheck(int axis)
    {
        var rng = new Rng(11);
        var x = GradCheck.Input(rng, 3, 7, 17);
        GradCheck.Check(t => Ops.Sum(t[0], axis), new[] { x }, label: "sum");
        GradCheck.Check(t => Ops.Mean(t[0], axis, keepDim: true), new[] { x }, label: "mean");
        GradCheck.Check(t => Ops.Max(t[0], axis), new[] { x }, label: "max");
        GradCheck.Check(t => Ops.Mean(t[0]), new[] { x }, label: "mean all");
    }

    [Fact]
    public void PermuteMatchesIndexArithmetic()
    {
        var rng = new Rng(1);
        var x = rng.Normal(new[] { 2, 3, 4, 5 });
        var y = Ops.Permute(x, 0, 2, 1, 3);
        Assert.Equal(new[] { 2, 4, 3, 5 }, y.Shape);
        for (int a = 0; a < 2; a++) for (int b = 0; b < 3; b++) for (int c = 0; c < 4; c++) for (int d = 0; d < 5; d++)
            Assert.Equal(x[a, b, c, d], y[a, c, b, d]);
        var z = Ops.Permute(x, 3, 1, 0, 2);
        for (int a = 0; a < 2; a++) for (int b = 0; b < 3; b++) for (int c = 0; c < 4; c++) for (int d = 0; d < 5; d++)
            Assert.Equal(x[a, b, c, d], z[d, b, a, c]);
    }

    [Fact]
    public void ShapeOpsGradCheck()
    {
        var rng = new Rng(3);
        var x = GradCheck.Input(rng, 2, 3, 7);
        var w = GradCheck.Input(rng, 2, 5, 7);
        GradCheck.Check(t => Ops.Reshape(t[0], 6, -1) * 2f, new[] { x }, label: "reshape");
        GradCheck.Check(t => Ops.Permute(t[0], 2, 0, 1), new[] { x }, label: "permute");
        GradCheck.Check(t => Ops.Transpose(t[0], 1, 2), new[] { x }, label: "transpose");
        GradCheck.Check(t => Ops.Slice(t[0], 2, 1, 6), new[] { x }, label: "slice");
        GradCheck.Check(t => Ops.Concat(new[] { t[0], t[1] }, 1), new[] { x, w }, label: "concat");
    }

    [Fact]
    public void ConcatAndSliceValues()
    {
        var a = Tensor.From(new float[] { 1, 2, 3, 4 }, 2, 2);
        var b = Tensor.From(new float[] { 5, 6 }, 2, 1);
        var c = Ops.Concat(new[] { a, b }, 1);
        Assert.Equal(new float[] { 1, 2, 5, 3, 4, 6 }, c.ToArray());
        Assert.Equal(new float[] { 2, 5, 4, 6 }, Ops.Slice(c, 1, 1, 3).ToArray());
    }

    [Fact]
    public void ShapeErrorsAreClear()
    {
        var x = Tensor.Zeros(2, 3);
        Assert.Equal("reshape: [2,3] (6 elements) cannot become [4,2]", Assert.Throws<ArgumentException>(() => Ops.Reshape(x, 4, 2)).Message);
        Assert.Contains("slice: range [1, 5)", Assert.Throws<ArgumentException>(() => Ops.Slice(x, 1, 1, 5)).Message);
        Assert.Contains("concat: shapes [2,3] and [3,3] differ outside axis 1", Assert.Throws<ArgumentException>(() => Ops.Concat(new[] { x, Tensor.Zeros(3, 3) }, 1)).Message);
        Assert.Contains("permute: dim 0 repeats", Assert.Throws<ArgumentException>(() => Ops.Permute(x, 0, 0)).Message);
    }
}

[Collection(GlobalKernelSettings.Name)]
public class LayoutAcrossThreadsTests
{
    /// <summary>Large permutes are split by output rows across threads; 7 threads put chunk edges mid-index.</summary>
    [Theory]
    [InlineData(new[] { 16, 65, 6, 32 }, new[] { 0, 2, 1, 3 })] // attention's head transpose: blocks of 32
    [InlineData(new[] { 61, 53, 71 }, new[] { 2, 0, 1 })]        // single elements (no trailing block)
    [InlineData(new[] { 9, 7, 11, 13, 17 }, new[] { 1, 0, 3, 2, 4 })]
    public void LargePermutesOnManyThreadsMatchIndexArithmetic(int[] shape, int[] dims)
    {
        var x = new Rng(5).Normal(shape);
        int saved = Kernels.Cpu.Par.Threads;
        try
        {
            Kernels.Cpu.Par.Threads = 7;
            var y = Ops.Permute(x, dims).ToArray();
            var xs = x.ToArray();
            var xStr = ShapeUtil.Strides(shape);
            var yShape = dims.Select(d => shape[d]).ToArray();
            var idx = new int[shape.Length];
            for (int i = 0; i < y.Length; i++)
            {
                int src = 0;
                for (int d = 0; d < dims.Length; d++) src += idx[d] * xStr[dims[d]];
                if (y[i] != xs[src]) Assert.Fail($"element {i} of the permuted tensor is {y[i]}, expected {xs[src]}");
                for (int d = dims.Length - 1; d >= 0 && ++idx[d] == yShape[d]; d--) idx[d] = 0;
            }
        }
        finally { Kernels.Cpu.Par.Threads = saved; }
    }

    /// <summary>Large slices, their backward, gradient accumulation and copies split across threads: the same values as
    /// one thread (7 threads put chunk edges mid-row).</summary>
    [Fact]
    public void LargeSlicesAccumulationAndCopiesOnManyThreadsMatchOneThread()
    {
        var x = new Rng(6).Normal(new[] { 4160, 3 * 192 });
        x.RequiresGrad = true;
        var g = new Rng(7).Normal(new[] { 4160, 192 });
        float[] Run()
        {
            x.Grad = null;
            var parts = new[] { Ops.Slice(x, 1, 0, 192), Ops.Slice(x, 1, 192, 384), Ops.Slice(x, 1, 384, 576) };
            var loss = Ops.Sum(parts[0] * g) + Ops.Sum(parts[1] * parts[2]);
            loss.Backward();
            return parts.SelectMany(p => p.ToArray()).Concat(x.Grad!.ToArray()).Concat(x.Grad!.Clone().ToArray()).ToArray();
        }
        int saved = Kernels.Cpu.Par.Threads;
        try
        {
            Kernels.Cpu.Par.Threads = 1;
            var one = Run();
            Kernels.Cpu.Par.Threads = 7;
            var many = Run();
            Assert.Equal(one, many);
            var buffer = Enumerable.Repeat(1f, 300_001).ToArray(); // a pooled tensor's storage, cleared for Zeros
            Kernels.Cpu.Layout.Clear(buffer);
            Assert.DoesNotContain(buffer, v => v != 0f);
            var xs = x.ToArray();
            for (int r = 0; r < 4160; r += 997) // the slices hold x's columns
                Assert.Equal(xs[r * 576 + 200], one[4160 * 192 + r * 192 + 8]);
        }
        finally { Kernels.Cpu.Par.Threads = saved; }
    }
}
