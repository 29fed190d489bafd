using System.Numerics.Tensors;

namespace Crt.Tensors.Kernels.Cpu;

public enum BinaryOp { Add, Sub, Mul, Div }

/// <summary>
/// NumPy-broadcast binary kernels. The output is walked row by row (a row = the last dim); each
/// operand contributes either a full row (SIMD over the row) or a single value (row broadcast).
/// </summary>
public static class Broadcast
{
    /// <summary>out = a op b, where a and b broadcast to <paramref name="outShape"/>.</summary>
    public static void Binary(BinaryOp op, ReadOnlySpan<float> a, int[] aShape, ReadOnlySpan<float> b, int[] bShape, Span<float> output, int[] outShape)
    {
        if (ShapeUtil.SameShape(aShape, outShape) && ShapeUtil.SameShape(bShape, outShape)) { SameParallel(op, a, b, output); return; }
        if (b.Length == 1 && ShapeUtil.SameShape(aShape, outShape)) { WithScalarB(op, a, b[0], output); return; }
        int rank = outShape.Length;
        int inner = rank == 0 ? 1 : outShape[rank - 1];
        int rows = inner == 0 ? 0 : output.Length / inner;
        var aStr = BroadcastStrides(aShape, outShape);
        var bStr = BroadcastStrides(bShape, outShape);
        bool aRow = rank > 0 && aStr[rank - 1] != 0 || inner == 1, bRow = rank > 0 && bStr[rank - 1] != 0 || inner == 1;
        Span<int> idx = stackalloc int[Math.Max(rank, 1)];
        int aOff = 0, bOff = 0;
        for (int r = 0; r < rows; r++)
        {
            var o = output.Slice(r * inner, inner);
            if (aRow && bRow) Same(op, a.Slice(aOff, inner), b.Slice(bOff, inner), o);
            else if (aRow) WithScalarB(op, a.Slice(aOff, inner), b[bOff], o);
            else if (bRow) WithScalarA(op, a[aOff], b.Slice(bOff, inner), o);
            else o.Fill(Apply(op, a[aOff], b[bOff]));
            // advance the row index (all dims but the last), odometer style
            for (int d = rank - 2; d >= 0; d--)
            {
                idx[d]++; aOff += aStr[d]; bOff += bStr[d];
                if (idx[d] < outShape[d]) break;
                aOff -= aStr[d] * outShape[d]; bOff -= bStr[d] * outShape[d]; idx[d] = 0;
            }
        }
    }

    /// <summary>dst (shape dstShape) = sum of g (shape gShape) over the dims along which dst was broadcast.</summary>
    public static void ReduceTo(ReadOnlySpan<float> g, int[] gShape, Span<float> dst, int[] dstShape)
    {
        if (ShapeUtil.SameShape(gShape, dstShape)) { g.CopyTo(dst); return; }
        dst.Clear();
        if (dst.Length == 1) { dst[0] = (float)SumDouble(g); return; }
        int rank = gShape.Length;
        int inner = gShape[rank - 1];
        int rows = inner == 0 ? 0 : g.Length / inner;
        var str = BroadcastStrides(dstShape, gShape);
        bool row = str[rank - 1] != 0 || inner == 1;
        Span<int> idx = stackalloc int[rank];
        int off = 0;
        for (int r = 0; r < rows; r++)
        {
            var gr = g.Slice(r * inner, inner);
            if (row) Elementwise.AddInPlace(dst.Slice(off, inner), gr);
            else dst[off] += TensorPrimitives.Sum(gr);
            for (int d = rank - 2; d >= 0; d--)
            {
                idx[d]++; off += str[d];
                if (idx[d] < gShape[d]) break;
                off -= str[d] * gShape[d]; idx[d] = 0;
            }
        }
    }

    /// <summary>Strides of <paramref name="shape"/> viewed as broadcast to <paramref name="target"/> (0 along broadcast dims).</summary>
    public static int[] BroadcastStrides(int[] shape, int[] target)
    {
        var s = new int[target.Length];
        int acc = 1;
        for (int i = target.Length - 1; i >= 0; i--)
        {
            int si = i - (target.Length - shape.Length);
            int d = si >= 0 ? shape[si] : 1;
            s[i] = d == 1 ? 0 : acc;
            acc *= d;
        }
        return s;
    }

    public static double SumDouble(ReadOnlySpan<float> x)
    {
        // Blocked: SIMD float sums over short blocks, blocks added in double (accurate and fast).
        double total = 0;
        for (int i = 0; i < x.Length; i += 1024) total += TensorPrimitives.Sum(x.Slice(i, Math.Min(1024, x.Length - i)));
        return total;
    }

    /// <summary>Large same-shape inputs are memory-bound: both cores' bandwidth helps.</summary>
    private static unsafe void SameParallel(BinaryOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> o)
    {
        if (o.Length < 1 << 16) { Same(op, a, b, o); return; }
        fixed (float* pa = a, pb = b, po = o)
        {
            nint ia = (nint)pa, ib = (nint)pb, io = (nint)po;
            Par.ForRange(o.Length, 1, (s, e) => Same(op,
                new ReadOnlySpan<float>((float*)ia + s, e - s), new ReadOnlySpan<float>((float*)ib + s, e - s), new Span<float>((float*)io + s, e - s)));
        }
    }

    private static float Apply(BinaryOp op, float x, float y) => op switch
    {
        BinaryOp.Add => x + y, BinaryOp.Sub => x - y, BinaryOp.Mul => x * y, _ => x / y,
    };

    // The kernels map Elementwise's op structs with Simd's drivers (at the width SimdPath selects).

    private static void Same(BinaryOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> o)
    {
        switch (op)
        {
            case BinaryOp.Add: Simd.Map(new AddOp(), a, b, o); break;
            case BinaryOp.Sub: Simd.Map(new SubOp(), a, b, o); break;
            case BinaryOp.Mul: Simd.Map(new MulOp(), a, b, o); break;
            default: Simd.Map(new DivOp(), a, b, o); break;
        }
    }

    private static void WithScalarB(BinaryOp op, ReadOnlySpan<float> a, float b, Span<float> o)
    {
        switch (op)
        {
            case BinaryOp.Add: Simd.Map(new WithRight<AddOp>(b), a, o); break;
            case BinaryOp.Sub: Simd.Map(new WithRight<SubOp>(b), a, o); break;
            case BinaryOp.Mul: Simd.Map(new WithRight<MulOp>(b), a, o); break;
            default: Simd.Map(new WithRight<DivOp>(b), a, o); break;
        }
    }

    private static void WithScalarA(BinaryOp op, float a, ReadOnlySpan<float> b, Span<float> o)
    {
        switch (op)
        {
            case BinaryOp.Add: Simd.Map(new WithLeft<AddOp>(a), b, o); break;
            case BinaryOp.Sub: Simd.Map(new WithLeft<SubOp>(a), b, o); break;
            case BinaryOp.Mul: Simd.Map(new WithLeft<MulOp>(a), b, o); break;
            default: Simd.Map(new WithLeft<DivOp>(a), b, o); break;
        }
    }
}
