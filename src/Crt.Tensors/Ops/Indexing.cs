using Crt.Tensors.Kernels.Cpu;

namespace Crt.Tensors;

/// <summary>Embedding lookup, index-select, gather, dropout and L2 normalisation, each with its backward.</summary>
public static partial class Ops
{
    /// <summary>Rows of weight [V, D] for each index; the result has shape indexShape + [D].</summary>
    public static Tensor Embedding(Tensor weight, int[] indices, int[] indexShape)
    {
        var k = weight.Device.Kernels;
        if (weight.Rank != 2) throw new ArgumentException($"embedding: weight must be [num, dim], got {ShapeUtil.Format(weight.Shape)}");
        CheckIndexShape("embedding", indices, indexShape);
        int v = weight.Shape[0], d = weight.Shape[1];
        CheckIndices("embedding", indices, v, $"the {v} rows of weight {ShapeUtil.Format(weight.Shape)}");
        var y = Tensor.Empty(weight.Device, [.. indexShape, d]);
        k.GatherRows(weight, d, indices, y);
        return Tensor.Record("embedding", y, new[] { weight }, g =>
        {
            var dw = weight.ZerosLike();
            k.ScatterAddRows(g, d, indices, dw);
            weight.AccumulateGrad(dw);
        });
    }

    /// <summary>torch.index_select: the entries <paramref name="index"/> of <paramref name="axis"/>, in that order (repeats allowed).</summary>
    public static Tensor IndexSelect(Tensor x, int axis, int[] index)
    {
        var k = x.Device.Kernels;
        var (outer, n, inner, _) = AxisSplit(x, axis, true, "index_select");
        int a = ShapeUtil.NormalizeAxis(axis, x.Rank, "index_select");
        CheckIndices("index_select", index, n, $"axis {axis} of length {n} in {ShapeUtil.Format(x.Shape)}");
        var shape = (int[])x.Shape.Clone();
        shape[a] = index.Length;
        var y = Tensor.Empty(x.Device, shape);
        k.IndexSelect(x, outer, n, inner, index, y);
        return Tensor.Record("index_select", y, new[] { x }, g =>
        {
            var dx = x.ZerosLike();
            k.IndexSelectBackward(g, outer, n, inner, index, dx);
            x.AccumulateGrad(dx);
        });
    }

    /// <summary>torch.gather: index has x's rank; out[i][j] = x[i][index[i][j]] along axis.</summary>
    public static Tensor Gather(Tensor x, int axis, int[] index, int[] indexShape)
    {
        var k = x.Device.Kernels;
        CheckIndexShape("gather", index, indexShape);
        int a = ShapeUtil.NormalizeAxis(axis, x.Rank, "gather");
        if (indexShape.Length != x.Rank)
            throw new ArgumentException($"gather: index {ShapeUtil.Format(indexShape)} must have the rank of input {ShapeUtil.Format(x.Shape)}");
        for (int d = 0; d < x.Rank; d++)
            if (d != a && indexShape[d] > x.Shape[d])
                throw new ArgumentException($"gather: index {ShapeUtil.Format(indexShape)} is larger than input {ShapeUtil.Format(x.Shape)} in dim {d}");
        CheckIndices("gather", index, x.Shape[a], $"axis {axis} of length {x.Shape[a]} in {ShapeUtil.Format(x.Shape)}");
        // Source offset of every output element, computed once and shared by forward and backward.
        var offsets = GatherOffsets(x.Shape, a, index, indexShape);
        var y = Tensor.Empty(x.Device, indexShape);
        k.GatherOffsets(x, offsets, y);
        return Tensor.Record("gather", y, new[] { x }, g =>
        {
            var dx = x.ZerosLike();
            k.ScatterAddOffsets(g, offsets, dx);
            x.AccumulateGrad(dx);
        });
    }

    private static int[] GatherOffsets(int[] xShape, int axis, int[] index, int[] indexShape)
    {
        var xStrides = ShapeUtil.Strides(xShape);
        var offsets = new int[index.Length];
        var pos = new int[indexShape.Length];
        for (int i = 0; i < index.Length; i++)
        {
            int off = 0;
            for (int d = 0; d < pos.Length; d++) off += (d == axis ? index[i] : pos[d]) * xStrides[d];
            offsets[i] = off;
            for (int d = pos.Length - 1; d >= 0; d--) // odometer increment over indexShape
            {
                if (++pos[d] < indexShape[d]) break;
                pos[d] = 0;
            }
        }
        return offsets;
    }

    /// <summary>Inverted dropout: zeroes with probability p and scales survivors by 1/(1−p); identity when not training.</summary>
    public static Tensor Dropout(Tensor x, float p, bool training, Rng? rng = null)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"dropout: probability {p} is outside [0, 1]");
        if (!training || p == 0f) return x;
        var k = x.Device.Kernels;
        var mask = x.EmptyLike();
        k.DropoutMask(mask, p, rng ?? Rng.Default);
        var y = x.EmptyLike();
        k.Binary(BinaryOp.Mul, x, mask, y);
        return Tensor.Record("dropout", y, new[] { x }, g =>
        {
            var dx = g.EmptyLike();
            k.Binary(BinaryOp.Mul, g, mask, dx);
            x.AccumulateGrad(dx);
        });
    }

    /// <summary>F.normalize: x / max(‖x‖₂, eps) along axis.</summary>
    public static Tensor L2Normalize(Tensor x, int axis = -1, float eps = 1e-12f)
    {
        var k = x.Device.Kernels;
        var (outer, n, inner, _) = AxisSplit(x, axis, true, "l2_normalize");
        var y = x.EmptyLike();
        var norms = k.L2Normalize(x, outer, n, inner, eps, y);
        return Tensor.Record("l2_normalize", y, new[] { x }, g =>
        {
            var dx = x.EmptyLike();
            k.L2NormalizeBackward(norms, g, y, x, outer, n, inner, eps, dx);
            x.AccumulateGrad(dx);
        });
    }

    private static void CheckIndexShape(string op, int[] indices, int[] indexShape)
    {
        ShapeUtil.Validate(indexShape, op);
        if (ShapeUtil.Numel(indexShape) != indices.Length)
            throw new ArgumentException($"{op}: {indices.Length} indices do not fill index shape {ShapeUtil.Format(indexShape)}");
    }

    private static void CheckIndices(string op, int[] indices, int count, string what)
    {
        for (int i = 0; i < indices.Length; i++)
            if ((uint)indices[i] >= (uint)count)
                throw new ArgumentOutOfRangeException(nameof(indices), $"{op}: index {indices[i]} (at position {i}) is outside {what}");
    }
}
