namespace Crt.Tensors;

/// <summary>Reshape (shares storage), permute/transpose, slice and concat (copies), with backward.</summary>
public static partial class Ops
{
    /// <summary>Same storage, new shape (one dim may be -1).</summary>
    public static Tensor Reshape(Tensor x, params int[] shape)
    {
        var resolved = ResolveShape(x, shape);
        var y = x.View(resolved);
        return Tensor.Record("reshape", y, new[] { x }, g => x.AccumulateGrad(g.View(x.Shape), owned: !g.BorrowedGradient));
    }

    private static int[] ResolveShape(Tensor x, int[] shape)
    {
        var s = (int[])shape.Clone();
        int infer = -1, known = 1;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"reshape: {ShapeUtil.Format(shape)} has more than one -1");
                infer = i;
            }
            else if (s[i] < 0) throw new ArgumentException($"reshape: negative dimension in {ShapeUtil.Format(shape)}");
            else known *= s[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || x.Size % known != 0)
                throw new ArgumentException($"reshape: cannot infer -1 in {ShapeUtil.Format(shape)} for {ShapeUtil.Format(x.Shape)} ({x.Size} elements)");
            s[infer] = x.Size / known;
        }
        if (ShapeUtil.Numel(s) != x.Size)
            throw new ArgumentException($"reshape: {ShapeUtil.Format(x.Shape)} ({x.Size} elements) cannot become {ShapeUtil.Format(shape)}");
        return s;
    }

    public static Tensor Permute(Tensor x, params int[] dims)
    {
        if (dims.Length != x.Rank)
            throw new ArgumentException($"permute: {dims.Length} dims {ShapeUtil.Format(dims)} for a tensor of rank {x.Rank} {ShapeUtil.Format(x.Shape)}");
        var seen = new bool[x.Rank];
        var d = new int[x.Rank];
        for (int i = 0; i < dims.Length; i++)
        {
            d[i] = ShapeUtil.NormalizeAxis(dims[i], x.Rank, "permute");
            if (seen[d[i]]) throw new ArgumentException($"permute: dim {dims[i]} repeats in {ShapeUtil.Format(dims)}");
            seen[d[i]] = true;
        }
        var shape = d.Select(i => x.Shape[i]).ToArray();
        var k = x.Device.Kernels;
        var y = Tensor.Empty(x.Device, shape);
        k.Permute(x, d, y);
        return Tensor.Record("permute", y, new[] { x }, g =>
        {
            var inverse = new int[d.Length];
            for (int i = 0; i < d.Length; i++) inverse[d[i]] = i;
            var dx = x.EmptyLike();
            k.Permute(g, inverse, dx);
            x.AccumulateGrad(dx);
        });
    }

    public static Tensor Transpose(Tensor x, int dim0, int dim1)
    {
        int a = ShapeUtil.NormalizeAxis(dim0, x.Rank, "transpose"), b = ShapeUtil.NormalizeAxis(dim1, x.Rank, "transpose");
        var dims = Enumerable.Range(0, x.Rank).ToArray();
        (dims[a], dims[b]) = (dims[b], dims[a]);
        return Permute(x, dims);
    }

    /// <summary>x[..., start:end, ...] along axis (a copy).</summary>
    public static Tensor Slice(Tensor x, int axis, int start, int end)
    {
        var (outer, n, inner, _) = AxisSplit(x, axis, true, "slice");
        if (start < 0 || end > n || start > end)
            throw new ArgumentException($"slice: range [{start}, {end}) is outside axis {axis} of length {n} in {ShapeUtil.Format(x.Shape)}");
        int a = ShapeUtil.NormalizeAxis(axis, x.Rank, "slice");
        var shape = (int[])x.Shape.Clone();
        shape[a] = end - start;
        var k = x.Device.Kernels;
        var y = Tensor.Empty(x.Device, shape);
        k.SliceAxis(x, outer, n, inner, start, end - start, y);
        return Tensor.Record("slice", y, new[] { x }, g =>
        {
            var dx = x.ZerosLike();
            k.AddIntoSlice(g, outer, n, inner, start, end - start, dx);
            x.AccumulateGrad(dx);
        });
    }

    public static Tensor Concat(Tensor[] xs, int axis)
    {
        if (xs.Length == 0) throw new ArgumentException("concat: no tensors given");
        var device = Device.Common("concat", xs);
        var k = device.Kernels;
        int a = ShapeUtil.NormalizeAxis(axis, xs[0].Rank, "concat");
        var shape = (int[])xs[0].Shape.Clone();
        int total = 0;
        foreach (var t in xs)
        {
            if (t.Rank != shape.Length || Enumerable.Range(0, shape.Length).Any(i => i != a && t.Shape[i] != shape[i]))
                throw new ArgumentException($"concat: shapes {string.Join(" and ", xs.Select(z => ShapeUtil.Format(z.Shape)))} differ outside axis {axis}");
            total += t.Shape[a];
        }
        shape[a] = total;
        var y = Tensor.Empty(device, shape);
        int outer = 1, inner = 1;
        for (int i = 0; i < a; i++) outer *= shape[i];
        for (int i = a + 1; i < shape.Length; i++) inner *= shape[i];
        int offset = 0;
        var starts = new int[xs.Length];
        for (int j = 0; j < xs.Length; j++)
        {
            starts[j] = offset;
            k.CopyIntoSlice(xs[j], outer, total, inner, offset, xs[j].Shape[a], y);
            offset += xs[j].Shape[a];
        }
        return Tensor.Record("concat", y, xs, g =>
        {
            for (int j = 0; j < xs.Length; j++)
            {
                if (!xs[j].RequiresGrad) continue;
                var dx = xs[j].EmptyLike();
                k.SliceAxis(g, outer, total, inner, starts[j], xs[j].Shape[a], dx);
                xs[j].AccumulateGrad(dx);
            }
        });
    }
}
