namespace Crt.Tensors.Kernels.Cpu;

/// <summary>Copy kernels that rearrange memory: permutation and axis slicing.</summary>
public static class Layout
{
    /// <summary>y = x.permute(dims) made contiguous. Trailing dims that keep their place are copied as blocks.</summary>
    public static void Permute(ReadOnlySpan<float> x, int[] xShape, int[] dims, Span<float> y)
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
        Span<int> idx = stackalloc int[rank];
        int src = 0, dst = 0;
        for (int r = 0; r < rows; r++)
        {
            if (block == 1)
            {
                for (int j = 0, s = src; j < lastLen; j++, s += lastStr) y[dst + j] = x[s];
                dst += lastLen;
            }
            else
            {
                for (int j = 0, s = src; j < lastLen; j++, s += lastStr, dst += block) x.Slice(s, block).CopyTo(y.Slice(dst, block));
            }
            for (int d = last - 1; d >= 0; d--)
            {
                idx[d]++; src += srcStr[d];
                if (idx[d] < yShape[d]) break;
                src -= srcStr[d] * yShape[d]; idx[d] = 0;
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
