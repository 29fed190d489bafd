using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
        if (transA) { PackATransposed(a, lda, i0, p0, mc, kc, mr, alpha, dst); return; }
        long* rowOff = stackalloc long[8];
        for (int s = 0; s < mc; s += mr)
        {
            int rows = Math.Min(mr, mc - s);
            float* d = dst + (long)s * kc;
            if (mr <= 8 && kc > 8 && Avx.IsSupported)
            {
                // 8×8 register transposes turn row runs into sliver rows, 8 depths at a time. With mr < 8 each
                // transposed row is 8 wide: its extra lanes spill into the next depth's row, which is written
                // after it, so the transposes stop short of the sliver's last depth (the scalar tail writes it).
                // Rows past the last real one re-read that row (in bounds; their lanes are never kept).
                float* src = a + (long)(i0 + s) * lda + p0;
                for (int r = 0; r < 8; r++) rowOff[r] = (long)Math.Min(r, rows - 1) * lda;
                int p = 0;
                for (; p + 8 <= kc - (mr < 8 ? 1 : 0); p += 8) Transpose8x8(src + p, rowOff, d + p * mr, mr, alpha);
                for (; p < kc; p++)
                    for (int r = 0; r < rows; r++) d[p * mr + r] = alpha * src[(long)r * lda + p];
            }
            else
            {
                // A(i, p) = a[i·lda + p]: each row is contiguous in p, scattered into column r of the sliver.
                for (int r = 0; r < rows; r++)
                {
                    float* src = a + (long)(i0 + s + r) * lda + p0;
                    float* dd = d + r;
                    for (int p = 0; p < kc; p++) dd[p * mr] = alpha * src[p];
                }
            }
            if (rows < mr)
                for (int p = 0; p < kc; p++)
                    for (int r = rows; r < mr; r++) d[p * mr + r] = 0f;
        }
    }

    /// <summary>
    /// <see cref="PackA"/> for a transposed A, A(i, p) = a[p·lda + i]: each depth row holds every sliver's rows side by side,
    /// so the rows are read once, in order, and each sliver's MR floats go to that sliver's own output stream. (Sliver by
    /// sliver, every depth row was read once per sliver, and with KC rows of 64-byte lines past L1 each line came from
    /// L2 again. PackA was 7–9% of a gpt-t3 training step, most of it here: dW = dYᵀ·X in every linear layer's backward.)
    /// </summary>
    private static void PackATransposed(float* a, int lda, int i0, int p0, int mc, int kc, int mr, float alpha, float* dst)
    {
        int whole = mc / mr * mr, last = mc - whole;
        bool v8 = mr == 8 && Vector256.IsHardwareAccelerated, v4 = Vector128.IsHardwareAccelerated;
        var alpha8 = Vector256.Create(alpha);
        var alpha4 = Vector128.Create(alpha);
        long sliverFloats = (long)mr * kc;
        for (int p = 0; p < kc; p++)
        {
            float* src = a + (long)(p0 + p) * lda + i0;
            float* dp = dst + (long)p * mr; // row p of the first sliver; sliver t's is sliverFloats·t further
            int i = 0;
            if (v8)
                for (; i < whole; i += 8, dp += sliverFloats) (Vector256.Load(src + i) * alpha8).Store(dp);
            else
                for (; i < whole; i += mr, dp += sliverFloats)
                {
                    int r = 0;
                    if (v4) for (; r + 4 <= mr; r += 4) (Vector128.Load(src + i + r) * alpha4).Store(dp + r);
                    for (; r < mr; r++) dp[r] = alpha * src[i + r];
                }
            if (last > 0)
            {
                for (int r = 0; r < last; r++) dp[r] = alpha * src[i + r];
                for (int r = last; r < mr; r++) dp[r] = 0f;
            }
        }
    }

    /// <summary>Packs depth [p0, p0+kc) × columns [j0, j0+nc) of op(B) into <paramref name="dst"/>.</summary>
    public static void PackB(bool transB, float* b, int ldb, int p0, int j0, int kc, int nc, int nr, float* dst)
    {
        if (!transB) { PackBRows(b, ldb, p0, j0, kc, nc, nr, dst); return; }
        long* rowOff = stackalloc long[8];
        for (int r = 0; r < 8; r++) rowOff[r] = (long)r * ldb;
        for (int s = 0; s < nc; s += nr)
        {
            int cols = Math.Min(nr, nc - s), groups = Avx.IsSupported ? cols / 8 * 8 : 0;
            float* d = dst + (long)s * kc;
            // B(p, j) = b[j·ldb + p]: 8×8 register transposes of 8 columns × 8 depths at a time, where there are 8
            // columns (a last sliver that is only partly real too: 48-wide slivers leave 16 or 32 real columns).
            int p = 0;
            if (groups > 0)
                for (; p <= kc - 8; p += 8)
                    for (int g = 0; g < groups; g += 8)
                        Transpose8x8(b + (long)(j0 + s + g) * ldb + p0 + p, rowOff, d + p * nr + g, nr, 1f);
            // The rest, each column a contiguous run of b: the last depths of the transposed columns, the other columns whole.
            for (int c = 0; c < cols; c++)
            {
                float* src = b + (long)(j0 + s + c) * ldb + p0;
                float* dd = d + c;
                for (int q = c < groups ? p : 0; q < kc; q++) dd[q * nr] = src[q];
            }
            if (cols < nr)
                for (int q = 0; q < kc; q++) new Span<float>(d + q * nr + cols, nr - cols).Clear();
        }
    }

    /// <summary>
    /// PackB for B(p, j) = b[p·ldb + j]: row by row of B, each row's piece copied into every sliver. (Filling one
    /// sliver down all kc rows first touched a new page per row, ldb floats apart, and missed the TLB on nearly
    /// every copy: 8.6% of a single-threaded 1024³ product's time at 512 bits on a 2-core AMD EPYC with AVX-512, Zen 5 class.)
    /// </summary>
    private static void PackBRows(float* b, int ldb, int p0, int j0, int kc, int nc, int nr, float* dst)
    {
        int full = nc / nr * nr, cols = nc - full;
        for (int p = 0; p < kc; p++)
        {
            float* src = b + (long)(p0 + p) * ldb + j0;
            float* dd = dst + (long)p * nr;
            for (int s = 0; s < full; s += nr) CopySliverRow(src + s, dd + (long)s * kc, nr);
            if (cols > 0)
            {
                float* last = dd + (long)full * kc;
                CopySliverRow(src + full, last, cols);
                new Span<float>(last + cols, nr - cols).Clear();
            }
        }
    }

    /// <summary>dst[0..n) = src[0..n) for one depth row of a B sliver: a few vector moves, no call (the last n mod 4 floats one by one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopySliverRow(float* src, float* dst, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16) Vector512.Store(Vector512.Load(src + i), dst + i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(src + i), dst + i);
        for (; i + 4 <= n; i += 4) Vector128.Store(Vector128.Load(src + i), dst + i);
        for (; i < n; i++) dst[i] = src[i];
    }

    /// <summary>
    /// dst[j·ldd + i] = alpha·src[rowOff[i] + j] for an 8×8 block (AVX unpack/shuffle/permute; x86 only, callers
    /// check Avx.IsSupported and fall back to scalar copies elsewhere). Rows are stored in order j = 0..7, 8 floats each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(float* src, long* rowOff, float* dst, int ldd, float alpha)
    {
        var r0 = Avx.LoadVector256(src + rowOff[0]); var r1 = Avx.LoadVector256(src + rowOff[1]);
        var r2 = Avx.LoadVector256(src + rowOff[2]); var r3 = Avx.LoadVector256(src + rowOff[3]);
        var r4 = Avx.LoadVector256(src + rowOff[4]); var r5 = Avx.LoadVector256(src + rowOff[5]);
        var r6 = Avx.LoadVector256(src + rowOff[6]); var r7 = Avx.LoadVector256(src + rowOff[7]);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        var va = Vector256.Create(alpha);
        if (alpha != 1f)
        {
            u0 *= va; u1 *= va; u2 *= va; u3 *= va; u4 *= va; u5 *= va; u6 *= va; u7 *= va;
        }
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + ldd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * ldd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * ldd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * ldd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * ldd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * ldd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * ldd, Avx.Permute2x128(u3, u7, 0x31));
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
