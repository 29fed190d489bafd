namespace Crt.Tensors;

/// <summary>Sum, mean, max, argmax/argmin; each reduction with its backward.</summary>
public static partial class Ops
{
    /// <summary>Sum of all elements (a scalar tensor of shape []).</summary>
    public static Tensor Sum(Tensor x) => SumAll(x, 1f, "sum");

    public static Tensor Mean(Tensor x)
    {
        if (x.Size == 0) throw new ArgumentException($"mean: tensor {ShapeUtil.Format(x.Shape)} is empty");
        return SumAll(x, 1f / x.Size, "mean");
    }

    private static Tensor SumAll(Tensor x, float scale, string name)
    {
        var k = x.Device.Kernels;
        var y = Tensor.Empty(x.Device);
        k.SumAll(x, scale, y);
        return Tensor.Record(name, y, new[] { x }, g =>
        {
            var dx = x.EmptyLike();
            k.ExpandAxis(g, 1, x.Size, 1, scale, dx);
            x.AccumulateGrad(dx);
        });
    }

    public static Tensor Sum(Tensor x, int axis, bool keepDim = false) => SumAxis(x, axis, keepDim, mean: false);
    public static Tensor Mean(Tensor x, int axis, bool keepDim = false) => SumAxis(x, axis, keepDim, mean: true);

    private static Tensor SumAxis(Tensor x, int axis, bool keepDim, bool mean)
    {
        string name = mean ? "mean" : "sum";
        var k = x.Device.Kernels;
        var (outer, n, inner, shape) = AxisSplit(x, axis, keepDim, name);
        if (mean && n == 0) throw new ArgumentException($"mean: axis {axis} of {ShapeUtil.Format(x.Shape)} is empty");
        float scale = mean ? 1f / n : 1f;
        var y = Tensor.Empty(x.Device, shape);
        k.SumAxis(x, outer, n, inner, scale, y);
        return Tensor.Record(name, y, new[] { x }, g =>
        {
            var dx = x.EmptyLike();
            k.ExpandAxis(g, outer, n, inner, scale, dx);
            x.AccumulateGrad(dx);
        });
    }

    /// <summary>Maximum along an axis; the gradient goes to the (first) maximal element.</summary>
    public static Tensor Max(Tensor x, int axis, bool keepDim = false)
    {
        var k = x.Device.Kernels;
        var (outer, n, inner, shape) = AxisSplit(x, axis, keepDim, "max");
        if (n == 0) throw new ArgumentException($"max: axis {axis} of {ShapeUtil.Format(x.Shape)} is empty");
        var y = Tensor.Empty(x.Device, shape);
        var arg = k.MaxAxis(x, outer, n, inner, y);
        return Tensor.Record("max", y, new[] { x }, g =>
        {
            var dx = x.ZerosLike();
            k.MaxAxisBackward(arg, g, outer, n, inner, dx);
            x.AccumulateGrad(dx);
        });
    }

    /// <summary>Indices of the maxima along an axis (first on ties), in row-major order of the remaining dims.</summary>
    public static int[] ArgMax(Tensor x, int axis = -1) => ArgExtreme(x, axis, min: false);

    public static int[] ArgMin(Tensor x, int axis = -1) => ArgExtreme(x, axis, min: true);

    private static int[] ArgExtreme(Tensor x, int axis, bool min)
    {
        string name = min ? "argmin" : "argmax";
        var (outer, n, inner, _) = AxisSplit(x, axis, false, name);
        if (n == 0) throw new ArgumentException($"{name}: axis {axis} of {ShapeUtil.Format(x.Shape)} is empty");
        return x.Device.Kernels.ArgExtreme(x, outer, n, inner, min);
    }

    /// <summary>Views x as [outer, n, inner] around <paramref name="axis"/>; also the reduced shape.</summary>
    internal static (int outer, int n, int inner, int[] reducedShape) AxisSplit(Tensor x, int axis, bool keepDim, string op)
    {
        int a = ShapeUtil.NormalizeAxis(axis, x.Rank, op);
        if (x.Rank == 0) throw new ArgumentException($"{op}: cannot reduce along an axis of a scalar");
        int outer = 1, inner = 1;
        for (int i = 0; i < a; i++) outer *= x.Shape[i];
        for (int i = a + 1; i < x.Rank; i++) inner *= x.Shape[i];
        var shape = keepDim
            ? x.Shape.Select((d, i) => i == a ? 1 : d).ToArray()
            : x.Shape.Where((_, i) => i != a).ToArray();
        return (outer, x.Shape[a], inner, shape);
    }
}
