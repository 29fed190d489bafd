using System.Runtime.CompilerServices;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Packs GEMM operands into the sliver layout the micro-kernel reads: alpha·op(A) into MR-tall slivers
/// (element (r, p) of a sliver at p·MR + r) and op(B) into NR-wide slivers (element (p, c) at p·NR + c),
/// zero-padding the last sliver of each.
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>Packs rows [i0, i0+mc) × depth [p0, p0+kc) of alpha·op(A) into <paramref name="dst"/>.</summary>
    public static void PackA(bool transA, float* a, int lda, int i0, int p0, int mc, int kc, int mr, float alpha, float* dst)
    {
        for (int s = 0; s < mc; s += mr)
        {
            int rows = Math.Min(mr, mc - s);
            float* d = dst + (long)s * kc;
            if (!transA)
            {
                // A(i, p) = a[i·lda + p]: each row is contiguous in p, scattered into column r of the sliver.
                for (int r = 0; r < rows; r++)
                {
                    float* src = a + (long)(i0 + s + r) * lda + p0;
                    float* dd = d + r;
                    for (int p = 0; p < kc; p++) dd[p * mr] = alpha * src[p];
                }
            }
            else
            {
                // A(i, p) = a[p·lda + i]: for each p the sliver's rows are contiguous.
                for (int p = 0; p < kc; p++)
                {
                    float* src = a + (long)(p0 + p) * lda + i0 + s;
                    float* dd = d + p * mr;
                    for (int r = 0; r < rows; r++) dd[r] = alpha * src[r];
                }
            }
            if (rows < mr)
                for (int p = 0; p < kc; p++)
                    for (int r = rows; r < mr; r++) d[p * mr + r] = 0f;
        }
    }

    /// <summary>Packs depth [p0, p0+kc) × columns [j0, j0+nc) of op(B) into <paramref name="dst"/>.</summary>
    public static void PackB(bool transB, float* b, int ldb, int p0, int j0, int kc, int nc, int nr, float* dst)
    {
        for (int s = 0; s < nc; s += nr)
        {
            int cols = Math.Min(nr, nc - s);
            float* d = dst + (long)s * kc;
            if (!transB)
            {
                // B(p, j) = b[p·ldb + j]: each depth row of the sliver is a contiguous copy.
                for (int p = 0; p < kc; p++)
                {
                    float* src = b + (long)(p0 + p) * ldb + j0 + s;
                    float* dd = d + p * nr;
                    if (cols == nr) new ReadOnlySpan<float>(src, nr).CopyTo(new Span<float>(dd, nr));
                    else
                    {
                        for (int c = 0; c < cols; c++) dd[c] = src[c];
                        for (int c = cols; c < nr; c++) dd[c] = 0f;
                    }
                }
            }
            else
            {
                // B(p, j) = b[j·ldb + p]: each column of the sliver is a contiguous run of b.
                for (int c = 0; c < cols; c++)
                {
                    float* src = b + (long)(j0 + s + c) * ldb + p0;
                    float* dd = d + c;
                    for (int p = 0; p < kc; p++) dd[p * nr] = src[p];
                }
                if (cols < nr)
                    for (int p = 0; p < kc; p++)
                        for (int c = cols; c < nr; c++) d[p * nr + c] = 0f;
            }
        }
    }
}

/// <summary>Per-thread, 64-byte-aligned pack buffers on the pinned heap; they only grow.</summary>
internal static unsafe class PackBuffers
{
    [ThreadStatic] private static float[]? t_a;
    [ThreadStatic] private static float[]? t_b;

    public static float* A(long n) => Get(ref t_a, n);
    public static float* B(long n) => Get(ref t_b, n);

    private static float* Get(ref float[]? buf, long n)
    {
        if (buf is null || buf.Length < n + 16)
            buf = GC.AllocateUninitializedArray<float>((int)Math.Max(n + 16, 4096), pinned: true);
        nint p = (nint)Unsafe.AsPointer(ref buf[0]);
        return (float*)((p + 63) & ~(nint)63);
    }
}
