using System.Runtime.Intrinsics.X86;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// The weight gradient's product dWᵀ [K, Cout] += col · gyᵀ with the im2col matrix written straight into the layout the
/// GEMM packs A into (<see cref="Gemm.Pack"/>: per depth slice of pixels, slivers of MR taps, each pixel's MR values
/// side by side), instead of im2col into a K × P matrix that the GEMM then reads again to pack: one pass over that
/// matrix less. The packed values are the same floats PackA would have written, and the product multiplies them in the
/// same order, so dW is bit-identical.
/// </summary>
public static unsafe partial class Conv2dKernels
{
    [ThreadStatic] private static float[]? _packedCol;

    /// <summary>Whether <see cref="WeightGradientPacked"/> takes this product: stride 1 (a tap's pixels are one run of an
    /// input row), on the calling thread (a product split across the cores packs its own A), and one the GEMM would pack
    /// (not a direct one, which sums in another order).</summary>
    private static bool PacksColAsA(in ConvGeom g, int bandPixels, bool par) =>
        (!par || Par.Threads <= 1) && g.Stride == 1 && !g.IsPointwise && !Gemm.IsDirect(Gemm.Current, g.K, g.Cout, bandPixels);

    /// <summary>dwT [K, Cout] += col · gyᵀ over output rows [oh0, oh1) of one image, col packed as A while it is made.</summary>
    private static void WeightGradientPacked(in ConvGeom g, float* x, float* gy, int oh0, int oh1, float* dwT)
    {
        var cfg = Gemm.Current!;
        int K = g.K, pc = (oh1 - oh0) * g.Wo, mr = cfg.MR, mRound = (K + mr - 1) / mr * mr;
        var buffer = Scratch(ref _packedCol, checked(mRound * pc + 16));
        fixed (float* start = buffer)
        {
            float* a = Align64(start);
            Im2ColPackedA(g, x, oh0, oh1, mr, Gemm.DepthSlice(cfg, pc), a);
            var packed = new Gemm.PackedA { M = K, K = pc, Config = cfg, Buffer = buffer, Data = (nint)a };
            Gemm.SgemmPacked(packed, true, g.Cout, gy + oh0 * g.Wo, g.P, 1f, dwT, g.Cout);
        }
    }

    /// <summary>
    /// The im2col matrix [K taps, pc pixels] of output rows [oh0, oh1) (stride 1) in the packed-A layout: depth slice s
    /// (pixels s·kcMax …) at s·kcMax·mRound; in it, the sliver of taps r0 … r0 + mr − 1 at r0·kc; in that, pixel p's mr
    /// values at p·mr. Taps past K are zero. Within an output row a tap's pixels are one run of its bordered input row,
    /// so eight taps × eight pixels are eight vector loads and one register transpose (as PackA does for a row-major A).
    /// </summary>
    internal static void Im2ColPackedA(in ConvGeom g, float* x, int oh0, int oh1, int mr, int kcMax, float* dst)
    {
        int Wo = g.Wo, K = g.K, khw = g.Kh * g.Kw, pc = (oh1 - oh0) * Wo, mRound = (K + mr - 1) / mr * mr;
        int Hb = oh1 - oh0 - 1 + g.Kh, Wb = Wo - 1 + g.Kw;
        bool transpose = mr <= 8 && Avx.IsSupported;
        fixed (float* xb = Scratch(ref _padded, g.Cin * Hb * Wb + 32))
        {
            Border(g, x, oh0 - g.PadTop, Hb, Wb, xb);
            long* rowOff = stackalloc long[8];
            for (int p0 = 0; p0 < pc; p0 += kcMax)
            {
                int kc = Math.Min(kcMax, pc - p0);
                float* slice = dst + (long)p0 * mRound;
                for (int r0 = 0; r0 < K; r0 += mr)
                {
                    int rows = Math.Min(mr, K - r0);
                    float* d = slice + (long)r0 * kc;
                    // Rows past the last tap re-read that tap (in bounds); their lanes are zeroed below.
                    for (int r = 0; r < 8; r++)
                    {
                        int tap = r0 + Math.Min(r, rows - 1), c = tap / khw, t = tap - c * khw, i = t / g.Kw;
                        rowOff[r] = ((long)c * Hb + i) * Wb + (t - i * g.Kw);
                    }
                    // Output row by output row of the slice: pixel p = row·Wo + ow lies at row·Wb + ow of each tap's run.
                    for (int p = p0, end = p0 + kc; p < end;)
                    {
                        int row = p / Wo, ow = p - row * Wo, runEnd = Math.Min(end, p - ow + Wo);
                        float* src = xb + (long)row * (Wb - Wo); // src[p] is output pixel p's input for tap offset 0
                        if (transpose)
                            // With mr < 8 a transposed pixel's extra lanes spill into the next pixel's, written after it:
                            // the slice's last pixel must not spill past the sliver, so the scalar loop writes it.
                            for (int stop = mr < 8 ? Math.Min(runEnd, end - 1) : runEnd; p + 8 <= stop; p += 8)
                                GemmPacking.Transpose8x8(src + p, rowOff, d + (long)(p - p0) * mr, mr, 1f);
                        for (; p < runEnd; p++)
                            for (int r = 0; r < rows; r++) d[(long)(p - p0) * mr + r] = src[p + rowOff[r]];
                    }
                    if (rows < mr)
                        for (int q = 0; q < kc; q++)
                            for (int r = rows; r < mr; r++) d[(long)q * mr + r] = 0f;
                }
            }
        }
    }
}
