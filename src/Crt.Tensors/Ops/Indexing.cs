using Crt.Tensors.Kernels.Cpu;

namespace Crt.Tensors;

/// <summary>Embedding lookup, index-select, gather, dropout and L2 normalisation, each with its backward.</summary>
public static partial class Ops
{
    /// <summary>Rows of weight [V, D] for each index; the result has shape indexShape + [D].</summary>
    public static Tensor Embedding(Tensor weight, int[] indices, int[] indexShape)
    {
        Device.Common("embedding", weight);
        if (weight.Rank != 2) throw new ArgumentException($"embedding: weight must be [num, dim], got {ShapeUtil.Format(weight.Shape)}");
        CheckIndexShape("embedding", indices, indexShape);
        int v = weight.Shape[0], d = weight.Shape[1];
        CheckIndices("embedding", indices, v, $"the {v} rows of weight {ShapeUtil.Format(weight.Shape)}");
        var y = Tensor.Empty([.. indexShape, d]);
        Indexing.GatherRows(weight.ReadOnlySpan, d, indices, y.Span);
        return Tensor.Record("embedding", y, new[] { weight }, g =>
        {
            var dw = weight.ZerosLike();
            Indexing.ScatterAddRows(g.ReadOnlySpan, d, indices, dw.Span);
            weight.AccumulateGrad(dw);
        });
    }

    /// <summary>torch.index_select: the entries <paramref name="index"/> of <paramref name="axis"/>, in that order (repeats allowed).</summary>
    public static Tensor IndexSelect(Tensor x, int axis, int[] index)
    {
        Device.Common("index_select", x);
        var (outer, n, inner, _) = AxisSplit(x, axis, true, "index_select");
        int a = ShapeUtil.NormalizeAxis(axis, x.Rank, "index_select");
        CheckIndices("index_select", index, n, $"axis {axis} of length {n} in {ShapeUtil.Format(x.Shape)}");
        var shape = (int[])x.Shape.Clone();
        shape[a] = index.Length;
        var y = Tensor.Empty(shape);
        int m = index.Length;
        var xs = x.ReadOnlySpan; var ys = y.Span;
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < m; j++)
                xs.Slice((o * n + index[j]) * inner, inner).CopyTo(ys.Slice((o * m + j) * inner, inner));
        return Tensor.Record("index_select", y, new[] { x }, g =>
        {
            var dx = x.ZerosLike();
            var gs = g.ReadOnlySpan; var ds = dx.Span;
            for (int o = 0; o < outer; o++)
                for (int j = 0; j < m; j++)
                    Elementwise.AddInPlace(ds.Slice((o * n + index[j]) * inner, inner), gs.Slice((o * m + j) * inner, inner));
            x.AccumulateGrad(dx);
        });
    }

    /// <summary>torch.gather: index has x's rank; out[i][j] = x[i][index[i][j]] along axis.</summary>
    public static Tensor Gather(Tensor x, int axis, int[] index, int[] indexShape)
    {
        Device.Common("gather", x);
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
        var y = Tensor.Empty(indexShape);
        var xs = x.ReadOnlySpan; var ys = y.Span;
        for (int i = 0; i < offsets.Length; i++) ys[i] = xs[offsets[i]];
        return Tensor.Record("gather", y, new[] { x }, g =>
        {
            var dx = x.ZerosLike();
            var gs = g.ReadOnlySpan; var ds = dx.Span;
            for (int i = 0; i < offsets.Length; i++) ds[offsets[i]] += gs[i];
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
        Device.Common("dropout", x);
        var mask = x.EmptyLike();
        Indexing.DropoutMask(mask.Span, p, rng ?? Rng.Default);
        var y = x.EmptyLike();
        System.Numerics.Tensors.TensorPrimitives.Multiply(x.ReadOnlySpan, mask.ReadOnlySpan, y.Span);
        return Tensor.Record("dropout", y, new[] { x }, g =>
        {
            var dx = g.EmptyLike();
            System.Numerics.Tensors.TensorPrimitives.Multiply(g.ReadOnlySpan, mask.ReadOnlySpan, dx.Span);
            x.AccumulateGrad(dx);
        });
    }

    /// <summary>F.normalize: x / max(‖x‖₂, eps) along axis.</summary>
    public static Tensor L2Normalize(Tensor x, int axis = -1, float eps = 1e-12f)
    {
        Device.Common("l2_normalize", x);
        var (outer, n, inner, reduced) = AxisSplit(x, axis, true, "l2_normalize");
        var norms = new float[outer * inner]; // max(‖x‖, eps) per vector
        var y = x.EmptyLike();
        Indexing.L2NormalizeForward(x.ReadOnlySpan, outer, n, inner, eps, norms, y.Span);
        return Tensor.Record("l2_normalize", y, new[] { x }, g =>
        {
            var dx = x.EmptyLike();
            Indexing.L2NormalizeBackward(g.ReadOnlySpan, y.ReadOnlySpan, x.ReadOnlySpan, outer, n, inner, eps, norms, dx.Span);
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
