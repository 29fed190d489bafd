namespace Crt.Tensors.Kernels.Cpu;

/// <summary>Copy kernels that rearrange memory: permutation and axis slicing.</summary>
public static class Layout
{
    /// <summary>
    /// y = x.permute(dims) made contiguous. Trailing dims that keep their place are copied as blocks. Large tensors are
    /// split by output rows across the cores (attention's head transposes are serial copies otherwise).
    /// </summary>
    public static unsafe void Permute(ReadOnlySpan<float> x, int[] xShape, int[] dims, Span<float> y)
    {
        int rank = xShape.Length;
        var xStr = ShapeUtil.Strides(xShape);
        var yShape = new int[rank];
        var srcStr = new int[rank]; // stride in x of each y dim
        for (int i = 0; i < rank; i++) { yShape[i] = xShape[dims[i]]; srcStr[i] = xStr[dims[i]]; }
        // The longest suffix with dims[i] == i is contiguous in both: copy it as one block.
        int keep = rank;
        while (keep > 0 && dims[keep - 1] == keep - 1) keep--;
        int block = 1;
        for (int i = keep; i < rank; i++) block *= yShape[i];
        if (keep == 0) { x.CopyTo(y); return; }
        int last = keep - 1, lastLen = yShape[last], lastStr = srcStr[last];
        int rows = y.Length / (block * lastLen);
        fixed (float* px = x, py = y)
        {
            nint X = (nint)px, Y = (nint)py;
            Par.ForRange(rows, (long)block * lastLen, (r0, r1) =>
                PermuteRows((float*)X, (float*)Y, yShape, srcStr, last, lastLen, lastStr, block, r0, r1));
        }
    }

    /// <summary>Output rows [r0, r1) of <see cref="Permute"/>: each row is lastLen runs of block floats.</summary>
    private static unsafe void PermuteRows(float* x, float* y, int[] yShape, int[] srcStr, int last, int lastLen, int lastStr,
        int block, int r0, int r1)
    {
        // The source offset of row r0: its index over the dims before the last moved one, row-major.
        Span<int> idx = stackalloc int[Math.Max(1, last)];
        long src = 0;
        for (int d = last - 1, rest = r0; d >= 0; d--)
        {
            idx[d] = rest % yShape[d]; rest /= yShape[d];
            src += (long)idx[d] * srcStr[d];
        }
        float* dst = y + (long)r0 * lastLen * block;
        for (int r = r0; r < r1; r++)
        {
            if (block == 1)
                for (int j = 0; j < lastLen; j++) dst[j] = x[src + (long)j * lastStr];
            else
                for (int j = 0; j < lastLen; j++)
                    new ReadOnlySpan<float>(x + src + (long)j * lastStr, block).CopyTo(new Span<float>(dst + (long)j * block, block));
            dst += (long)lastLen * block;
            for (int d = last - 1; d >= 0; d--)
            {
                idx[d]++; src += srcStr[d];
                if (idx[d] < yShape[d]) break;
                src -= (long)srcStr[d] * yShape[d]; idx[d] = 0;
            }
        }
    }

    /// <summary>Copies x[outer, start:start+len, inner] (x has n along the axis) into y[outer, len, inner].</summary>
    public static void SliceAxis(ReadOnlySpan<float> x, int outer, int n, int inner, int start, int len, Span<float> y)
    {
        for (int o = 0; o < outer; o++)
            x.Slice((o * n + start) * inner, len * inner).CopyTo(y.Slice(o * len * inner, len * inner));
    }

    /// <summary>Adds y[outer, len, inner] into x[outer, start:start+len, inner] (the slice's backward).</summary>
    public static void AddIntoSlice(ReadOnlySpan<float> y, int outer, int n, int inner, int start, int len, Span<float> x)
    {
        for (int o = 0; o < outer; o++)
        {
            var dst = x.Slice((o * n + start) * inner, len * inner);
            System.Numerics.Tensors.TensorPrimitives.Add(dst, y.Slice(o * len * inner, len * inner), dst);
        }
    }
}
