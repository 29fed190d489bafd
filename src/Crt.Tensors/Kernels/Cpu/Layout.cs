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
            if (Small(y.Length)) { PermuteRows(px, py, yShape, srcStr, last, lastLen, lastStr, block, 0, rows); return; }
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

    /// <summary>Below this many floats a permute, copy, clear or slice runs on the calling thread (the hand-off would cost more).</summary>
    private const int ParallelFloats = 1 << 16;

    private static bool Small(long floats) => floats < ParallelFloats || Par.Threads <= 1;

    /// <summary>dst = src for spans that do not overlap; large ones split across the cores.</summary>
    public static unsafe void Copy(ReadOnlySpan<float> src, Span<float> dst)
    {
        if (Small(src.Length)) { src.CopyTo(dst); return; }
        if (dst.Length < src.Length) throw new ArgumentException($"copy: {src.Length} floats do not fit in {dst.Length}");
        fixed (float* ps = src, pd = dst)
        {
            nint S = (nint)ps, D = (nint)pd;
            Par.ForRange(src.Length, 1, (a, b) => new ReadOnlySpan<float>((float*)S + a, b - a).CopyTo(new Span<float>((float*)D + a, b - a)));
        }
    }

    /// <summary>dst = 0; large spans split across the cores.</summary>
    public static unsafe void Clear(Span<float> dst)
    {
        if (Small(dst.Length)) { dst.Clear(); return; }
        fixed (float* pd = dst)
        {
            nint D = (nint)pd;
            Par.ForRange(dst.Length, 1, (a, b) => new Span<float>((float*)D + a, b - a).Clear());
        }
    }

    /// <summary>Copies x[outer, start:start+len, inner] (x has n along the axis) into y[outer, len, inner].</summary>
    public static unsafe void SliceAxis(ReadOnlySpan<float> x, int outer, int n, int inner, int start, int len, Span<float> y)
    {
        CheckSlice("slice", x.Length, y.Length, outer, n, inner, start, len);
        fixed (float* px = x, py = y) SliceRuns(px, py, outer, n, inner, start, len, add: false);
    }

    /// <summary>Adds y[outer, len, inner] into x[outer, start:start+len, inner] (the slice's backward).</summary>
    public static unsafe void AddIntoSlice(ReadOnlySpan<float> y, int outer, int n, int inner, int start, int len, Span<float> x)
    {
        CheckSlice("slice backward", x.Length, y.Length, outer, n, inner, start, len);
        fixed (float* px = x, py = y) SliceRuns(px, py, outer, n, inner, start, len, add: true);
    }

    private static void CheckSlice(string op, int fullLength, int partLength, int outer, int n, int inner, int start, int len)
    {
        if (fullLength < (long)outer * n * inner || partLength < (long)outer * len * inner || start < 0 || len < 0 || start + len > n)
            throw new ArgumentException($"{op}: [{start}, {start + len}) of [{outer}, {n}, {inner}] does not fit the tensor ({fullLength}) or the slice ({partLength})");
    }

    /// <summary>For each outer index, the run [start, start+len)·inner of full and the matching run of part: part = full's
    /// run, or (add) full's run += part's.</summary>
    private static unsafe void SliceRuns(float* full, float* part, int outer, int n, int inner, int start, int len, bool add)
    {
        nint F = (nint)full, P = (nint)part;
        int run = len * inner;
        OverOuter(outer, run, (o0, o1) =>
        {
            for (int o = o0; o < o1; o++)
            {
                var f = new Span<float>((float*)F + ((long)o * n + start) * inner, run);
                var p = new Span<float>((float*)P + (long)o * run, run);
                if (add) System.Numerics.Tensors.TensorPrimitives.Add(f, p, f);
                else f.CopyTo(p);
            }
        });
    }

    /// <summary>body over [0, outer) on this thread when the slice is small, else split across the cores.</summary>
    private static void OverOuter(int outer, long floatsPerOuter, Action<int, int> body)
    {
        if (Small(outer * floatsPerOuter)) body(0, outer);
        else Par.ForRange(outer, floatsPerOuter, body);
    }
}
