using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Fused normalization kernels (GroupNorm with optional swish, BatchNorm, LayerNorm, RMSNorm).
/// Statistics are accumulated in double around a shift (the first element), so a large mean does not
/// cancel the variance away; forward is one statistics pass plus one normalize(+affine, +swish) pass;
/// backward recomputes the normalized values from x and the saved mean and 1/σ. Means are kept in double
/// and applied as a float head plus a small float tail (x − m_hi is exact near the mean, the tail is folded
/// into the constant terms), so inputs with |mean| ≫ σ normalize as accurately as centred ones.
/// </summary>
public static class NormKernels
{
    // ---- statistics -------------------------------------------------------------------------------

    /// <summary>Adds Σ(x−shift) and Σ(x−shift)² of <paramref name="x"/> to s1 and s2.</summary>
    public static void AccumulateMoments(ReadOnlySpan<float> x, float shift, ref double s1, ref double s2)
    {
        int n = x.Length, i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        if (Vector512.IsHardwareAccelerated && n >= 32)
        {
            var k = Vector512.Create(shift);
            Vector512<double> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector512<double> q0 = default, q1 = default, q2 = default, q3 = default;
            for (; i <= n - 32; i += 32)
            {
                var (l0, h0) = Vector512.Widen(Vector512.LoadUnsafe(ref xr, (nuint)i) - k);
                var (l1, h1) = Vector512.Widen(Vector512.LoadUnsafe(ref xr, (nuint)(i + 16)) - k);
                a0 += l0; a1 += h0; a2 += l1; a3 += h1;
                q0 = Vector512.FusedMultiplyAdd(l0, l0, q0); q1 = Vector512.FusedMultiplyAdd(h0, h0, q1);
                q2 = Vector512.FusedMultiplyAdd(l1, l1, q2); q3 = Vector512.FusedMultiplyAdd(h1, h1, q3);
            }
            s1 += Vector512.Sum((a0 + a1) + (a2 + a3));
            s2 += Vector512.Sum((q0 + q1) + (q2 + q3));
        }
        else if (Vector256.IsHardwareAccelerated && n >= 16)
        {
            var k = Vector256.Create(shift);
            Vector256<double> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector256<double> q0 = default, q1 = default, q2 = default, q3 = default;
            for (; i <= n - 16; i += 16)
            {
                var (l0, h0) = Vector256.Widen(Vector256.LoadUnsafe(ref xr, (nuint)i) - k);
                var (l1, h1) = Vector256.Widen(Vector256.LoadUnsafe(ref xr, (nuint)(i + 8)) - k);
                a0 += l0; a1 += h0; a2 += l1; a3 += h1;
                q0 = Vector256.FusedMultiplyAdd(l0, l0, q0); q1 = Vector256.FusedMultiplyAdd(h0, h0, q1);
                q2 = Vector256.FusedMultiplyAdd(l1, l1, q2); q3 = Vector256.FusedMultiplyAdd(h1, h1, q3);
            }
            s1 += Vector256.Sum((a0 + a1) + (a2 + a3));
            s2 += Vector256.Sum((q0 + q1) + (q2 + q3));
        }
        for (; i < n; i++)
        {
            double d = x[i] - shift;
            s1 += d; s2 += d * d;
        }
    }

    /// <summary>Splits a mean into a float head and the float remainder: m = hi + lo to about 1e-14 relative.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float hi, float lo) Split(double m)
    {
        float hi = (float)m;
        return (hi, (float)(m - hi));
    }

    /// <summary>Mean and biased variance from the shifted sums of <paramref name="count"/> values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (double mean, double var) Finish(double s1, double s2, long count, float shift)
    {
        double m = s1 / count;
        return (shift + m, Math.Max(0, s2 / count - m * m));
    }

    // ---- backward partial sums ----------------------------------------------------------------------

    /// <summary>
    /// For one row: dh = g (or, with <paramref name="swish"/>, g·silu'(h) where h = (x−mean)·a + b), written
    /// to <paramref name="dh"/> when it is not empty; adds Σdh and Σdh·(x−mean) to s1 and s2.
    /// </summary>
    public static void GradSums(ReadOnlySpan<float> x, ReadOnlySpan<float> g, float mean, float a, float b, bool swish,
        Span<float> dh, ref double s1, ref double s2)
    {
        int n = x.Length, i = 0;
        bool write = !dh.IsEmpty;
        if (Vector512.IsHardwareAccelerated)
        {
            ref float xr = ref MemoryMarshal.GetReference(x);
            ref float gr = ref MemoryMarshal.GetReference(g);
            ref float dr = ref MemoryMarshal.GetReference(dh);
            var vm = Vector512.Create(mean); var va = Vector512.Create(a); var vb = Vector512.Create(b);
            while (i <= n - 16)
            {
                // Float lanes over blocks of at most 1024 elements, blocks added in double.
                int end = Math.Min(n - 16, i + 1008);
                Vector512<float> acc1 = default, acc2 = default;
                if (!swish)
                    for (; i <= end; i += 16)
                    {
                        var gv = Vector512.LoadUnsafe(ref gr, (nuint)i);
                        acc1 += gv;
                        acc2 = Vector512.FusedMultiplyAdd(gv, Vector512.LoadUnsafe(ref xr, (nuint)i) - vm, acc2);
                    }
                else
                    for (; i <= end; i += 16)
                    {
                        var xc = Vector512.LoadUnsafe(ref xr, (nuint)i) - vm;
                        var gv = SiluGrad(Vector512.LoadUnsafe(ref gr, (nuint)i), xc, va, vb);
                        if (write) gv.StoreUnsafe(ref dr, (nuint)i);
                        acc1 += gv;
                        acc2 = Vector512.FusedMultiplyAdd(gv, xc, acc2);
                    }
                s1 += Vector512.Sum(acc1);
                s2 += Vector512.Sum(acc2);
            }
            if (i < n)
            {
                // The tail through zero-padded vectors (a zero upstream gradient adds nothing).
                int rem = n - i;
                Span<float> px = stackalloc float[16], pg = stackalloc float[16];
                px.Clear(); pg.Clear(); x[i..].CopyTo(px); g[i..].CopyTo(pg);
                var xc = Vector512.Create((ReadOnlySpan<float>)px) - vm;
                var gv = Vector512.Create((ReadOnlySpan<float>)pg);
                if (swish)
                {
                    gv = SiluGrad(gv, xc, va, vb);
                    if (write) { gv.CopyTo(pg); pg[..rem].CopyTo(dh[i..]); }
                }
                s1 += Vector512.Sum(gv);
                s2 += Vector512.Sum(gv * xc);
            }
            return;
        }
        for (; i < n; i++)
        {
            float xc = x[i] - mean, gv = g[i];
            if (swish)
            {
                float h = xc * a + b, s = 1f / (1f + MathF.Exp(-h));
                gv = gv * s * (1f + h * (1f - s));
                if (write) dh[i] = gv;
            }
            s1 += gv; s2 += (double)gv * xc;
        }
    }

    /// <summary>g·silu'(h) with h = xc·a + b: g·σ(h)·(1 + h·(1 − σ(h))).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> SiluGrad(Vector512<float> g, Vector512<float> xc, Vector512<float> a, Vector512<float> b)
    {
        var h = Vector512.FusedMultiplyAdd(xc, a, b);
        var s = VMath.Sigmoid(h);
        return g * s * Vector512.FusedMultiplyAdd(h, Vector512<float>.One - s, Vector512<float>.One);
    }

    // ---- GroupNorm ------------------------------------------------------------------------------------

    /// <summary>
    /// GroupNorm forward over x viewed as [n, c, s]; weight/bias are empty or of length c. Writes y and the
    /// per-(sample, group) mean and 1/σ (length n·groups) for the backward.
    /// </summary>
    public static unsafe void GroupNormForward(ReadOnlySpan<float> x, int n, int c, int s, int groups,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, float eps, bool swish,
        Span<float> y, Span<double> mean, Span<float> rstd)
    {
        int cg = c / groups;
        long m = (long)cg * s;
        bool hasW = !weight.IsEmpty, hasB = !bias.IsEmpty;
        fixed (float* px = x, py = y, pw = weight, pb = bias, pr = rstd)
        fixed (double* pm = mean)
        {
            nint ix = (nint)px, iy = (nint)py, iw = (nint)pw, ib = (nint)pb, im = (nint)pm, ir = (nint)pr;
            Simd.ForBlocks(n * groups, m * (swish ? 12 : 4), (lo, hi) =>
            {
                for (int t = lo; t < hi; t++)
                {
                    int g = t % groups;
                    long off = (long)t * m; // samples are [c, s] and groups are contiguous channel runs
                    var xs = new ReadOnlySpan<float>((float*)ix + off, (int)m);
                    float shift = xs[0];
                    double s1 = 0, s2 = 0;
                    AccumulateMoments(xs, shift, ref s1, ref s2);
                    var (mu, v) = Finish(s1, s2, m, shift);
                    float r = (float)(1.0 / Math.Sqrt(v + eps));
                    var (mh, ml) = Split(mu);
                    ((double*)im)[t] = mu; ((float*)ir)[t] = r;
                    for (int j = 0; j < cg; j++)
                    {
                        int ch = g * cg + j;
                        float a = hasW ? r * ((float*)iw)[ch] : r, b = (hasB ? ((float*)ib)[ch] : 0f) - ml * a;
                        var xr = xs.Slice(j * s, s);
                        var yr = new Span<float>((float*)iy + off + (long)j * s, s);
                        if (swish) Simd.Map(new AffineSiluOp(mh, a, b), xr, yr);
                        else Simd.Map(new AffineOp(mh, a, b), xr, yr);
                    }
                }
            });
        }
    }

    /// <summary>
    /// GroupNorm backward. dx may be empty (x needs no gradient); with <paramref name="accumulate"/> the
    /// input gradient is added to dx's contents instead of overwriting them. dweight/dbias may be empty.
    /// With swish the upstream gradient first goes through silu'(h), h recomputed from x, mean, 1/σ, weight
    /// and bias, into a per-thread scratch block that stays in L1/L2.
    /// </summary>
    public static unsafe void GroupNormBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int n, int c, int s, int groups,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<double> mean, ReadOnlySpan<float> rstd, bool swish,
        Span<float> dx, Span<float> dweight, Span<float> dbias, bool accumulate = false)
    {
        int cg = c / groups;
        long m = (long)cg * s;
        bool hasW = !weight.IsEmpty, hasB = !bias.IsEmpty, needDx = !dx.IsEmpty;
        var sdh = new double[n * c];  // Σ dh per (sample, channel)
        var sdhx = new double[n * c]; // Σ dh·(x − mean) per (sample, channel)
        fixed (float* px = x, pg = dy, pw = weight, pb = bias, pr = rstd, pdx = dx)
        fixed (double* pm = mean)
        {
            nint ix = (nint)px, ig = (nint)pg, iw = (nint)pw, ib = (nint)pb, im = (nint)pm, ir = (nint)pr, idx = (nint)pdx;
            Simd.ForBlocks(n * groups, m * (swish ? 16 : 6), (lo, hi) =>
            {
                float[]? scratch = swish ? Scratch((int)m) : null;
                for (int t = lo; t < hi; t++)
                {
                    int ni = t / groups, g = t % groups;
                    long off = (long)t * m;
                    var (mh, ml) = Split(((double*)im)[t]);
                    float r = ((float*)ir)[t];
                    double t1 = 0, t2 = 0; // Σ_ch w·Σdh, Σ_ch w·Σdh·(x−mean)
                    for (int j = 0; j < cg; j++)
                    {
                        int ch = g * cg + j;
                        float w = hasW ? ((float*)iw)[ch] : 1f, b = hasB ? ((float*)ib)[ch] : 0f;
                        long ro = off + (long)j * s;
                        var xr = new ReadOnlySpan<float>((float*)ix + ro, s);
                        var gr = new ReadOnlySpan<float>((float*)ig + ro, s);
                        Span<float> dh = swish ? scratch.AsSpan(j * s, s) : default;
                        double a1 = 0, a2 = 0;
                        GradSums(xr, gr, mh, r * w, b - ml * r * w, swish, dh, ref a1, ref a2);
                        a2 -= ml * a1; // Σdh·(x − mean) from Σdh·(x − m_hi)
                        sdh[ni * c + ch] = a1; sdhx[ni * c + ch] = a2;
                        t1 += w * a1; t2 += w * a2;
                    }
                    if (!needDx) continue;
                    // dx = r·(w·dh − mean(w·dh) − x̂·mean(w·dh·x̂)), x̂ = (x − mean)·r
                    float bb = (float)(-(double)r * r * r * t2 / m), cc = (float)(-r * t1 / m);
                    for (int j = 0; j < cg; j++)
                    {
                        int ch = g * cg + j;
                        float w = hasW ? ((float*)iw)[ch] : 1f;
                        long ro = off + (long)j * s;
                        var xr = new ReadOnlySpan<float>((float*)ix + ro, s);
                        var dxr = new Span<float>((float*)idx + ro, s);
                        ReadOnlySpan<float> dh = swish ? scratch.AsSpan(j * s, s) : new ReadOnlySpan<float>((float*)ig + ro, s);
                        var op = new LinOp(r * w, bb, cc - bb * ml, mh);
                        if (accumulate) Simd.Map(new AccumulateOp<LinOp>(op), dh, xr, dxr, dxr);
                        else Simd.Map(op, dh, xr, dxr);
                    }
                }
            });
        }
        if (!dweight.IsEmpty || !dbias.IsEmpty)
            for (int ch = 0; ch < c; ch++)
            {
                double gw = 0, gb = 0;
                for (int ni = 0; ni < n; ni++)
                {
                    gw += rstd[ni * groups + ch / cg] * sdhx[ni * c + ch];
                    gb += sdh[ni * c + ch];
                }
                if (!dweight.IsEmpty) dweight[ch] = (float)gw;
                if (!dbias.IsEmpty) dbias[ch] = (float)gb;
            }
    }

    // ---- BatchNorm ------------------------------------------------------------------------------------

    /// <summary>Per-channel mean and biased variance of x viewed as [n, c, s].</summary>
    public static unsafe void ChannelMoments(ReadOnlySpan<float> x, int n, int c, int s, Span<double> mean, Span<double> variance)
    {
        fixed (float* px = x) fixed (double* pm = mean, pv = variance)
        {
            nint ix = (nint)px, im = (nint)pm, iv = (nint)pv;
            Par.For(c, (long)n * s * 2, ch =>
            {
                float shift = ((float*)ix)[(long)ch * s];
                double s1 = 0, s2 = 0;
                for (int ni = 0; ni < n; ni++)
                    AccumulateMoments(new ReadOnlySpan<float>((float*)ix + ((long)ni * c + ch) * s, s), shift, ref s1, ref s2);
                var (mu, v) = Finish(s1, s2, (long)n * s, shift);
                ((double*)im)[ch] = mu; ((double*)iv)[ch] = v;
            });
        }
    }

    /// <summary>y = (x − mean[ch])·scale[ch] + shift[ch] over x viewed as [n, c, s].</summary>
    public static unsafe void ChannelAffine(ReadOnlySpan<float> x, int n, int c, int s, ReadOnlySpan<float> mean,
        ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, Span<float> y)
    {
        fixed (float* px = x, py = y, pm = mean, pa = scale, pb = shift)
        {
            nint ix = (nint)px, iy = (nint)py, im = (nint)pm, ia = (nint)pa, ib = (nint)pb;
            Simd.ForBlocks(n * c, (long)s * 2, (lo, hi) =>
            {
                for (int t = lo; t < hi; t++)
                {
                    int ch = t % c;
                    Simd.Map(new AffineOp(((float*)im)[ch], ((float*)ia)[ch], ((float*)ib)[ch]),
                        new ReadOnlySpan<float>((float*)ix + (long)t * s, s), new Span<float>((float*)iy + (long)t * s, s));
                }
            });
        }
    }

    /// <summary>Per-channel Σdy and Σdy·(x − mean[ch]) over x viewed as [n, c, s].</summary>
    public static unsafe void ChannelGradSums(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int n, int c, int s,
        ReadOnlySpan<float> mean, Span<double> sdy, Span<double> sdyx)
    {
        fixed (float* px = x, pg = dy, pm = mean) fixed (double* p1 = sdy, p2 = sdyx)
        {
            nint ix = (nint)px, ig = (nint)pg, im = (nint)pm, i1 = (nint)p1, i2 = (nint)p2;
            Par.For(c, (long)n * s * 3, ch =>
            {
                double a1 = 0, a2 = 0;
                float mu = ((float*)im)[ch];
                for (int ni = 0; ni < n; ni++)
                {
                    long ro = ((long)ni * c + ch) * s;
                    GradSums(new ReadOnlySpan<float>((float*)ix + ro, s), new ReadOnlySpan<float>((float*)ig + ro, s), mu, 0f, 0f, false, default, ref a1, ref a2);
                }
                ((double*)i1)[ch] = a1; ((double*)i2)[ch] = a2;
            });
        }
    }

    /// <summary>dx = a[ch]·dy + b[ch]·(x − mean[ch]) + cc[ch] over x viewed as [n, c, s].</summary>
    public static unsafe void ChannelLinear(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, int n, int c, int s, ReadOnlySpan<float> mean,
        ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> cc, Span<float> dx)
    {
        fixed (float* px = x, pg = dy, pm = mean, pa = a, pb = b, pc = cc, pd = dx)
        {
            nint ix = (nint)px, ig = (nint)pg, im = (nint)pm, ia = (nint)pa, ib = (nint)pb, ic = (nint)pc, id = (nint)pd;
            Simd.ForBlocks(n * c, (long)s * 3, (lo, hi) =>
            {
                for (int t = lo; t < hi; t++)
                {
                    int ch = t % c;
                    long ro = (long)t * s;
                    Simd.Map(new LinOp(((float*)ia)[ch], ((float*)ib)[ch], ((float*)ic)[ch], ((float*)im)[ch]),
                        new ReadOnlySpan<float>((float*)ig + ro, s), new ReadOnlySpan<float>((float*)ix + ro, s), new Span<float>((float*)id + ro, s));
                }
            });
        }
    }

    // ---- LayerNorm / RMSNorm over the last dim ---------------------------------------------------------------

    /// <summary>
    /// LayerNorm (rms = false) or RMSNorm (rms = true) forward over rows of length d. weight/bias are
    /// empty or of length d (RMSNorm ignores bias). Writes mean (zeros for RMSNorm) and 1/σ per row.
    /// </summary>
    public static unsafe void RowNormForward(ReadOnlySpan<float> x, int rows, int d, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        float eps, bool rms, Span<float> y, Span<double> mean, Span<float> rstd)
    {
        bool hasW = !weight.IsEmpty, hasB = !bias.IsEmpty && !rms;
        fixed (float* px = x, py = y, pw = weight, pb = bias, pr = rstd)
        fixed (double* pm = mean)
        {
            nint ix = (nint)px, iy = (nint)py, iw = (nint)pw, ib = (nint)pb, im = (nint)pm, ir = (nint)pr;
            Simd.ForBlocks(rows, (long)d * 4, (lo, hi) =>
            {
                var w = new ReadOnlySpan<float>((float*)iw, hasW ? d : 0);
                var b = new ReadOnlySpan<float>((float*)ib, hasB ? d : 0);
                for (int r = lo; r < hi; r++)
                {
                    var xr = new ReadOnlySpan<float>((float*)ix + (long)r * d, d);
                    var yr = new Span<float>((float*)iy + (long)r * d, d);
                    double s1 = 0, s2 = 0, mu, v;
                    if (rms) { AccumulateMoments(xr, 0f, ref s1, ref s2); mu = 0; v = s2 / d; }
                    else
                    {
                        AccumulateMoments(xr, xr[0], ref s1, ref s2);
                        (mu, v) = Finish(s1, s2, d, xr[0]);
                    }
                    float rs = (float)(1.0 / Math.Sqrt(v + eps));
                    ((double*)im)[r] = mu; ((float*)ir)[r] = rs;
                    var (mh, ml) = Split(mu);
                    if (hasW && hasB) Simd.Map(new RowAffineOp(mh, ml, rs), xr, w, b, yr);
                    else if (hasW) Simd.Map(new RowScaleOp(mh, ml, rs), xr, w, yr);
                    else Simd.Map(new RowShiftOp(mh, ml, rs), xr, hasB ? b : ZerosRow(d), yr);
                }
            });
        }
    }

    /// <summary>
    /// LayerNorm / RMSNorm backward. dx, dweight, dbias may each be empty; with <paramref name="accumulate"/>
    /// the input gradient is added to dx's contents. With x̂ = (x − mean)·r and
    /// ĝ = dy·w: LayerNorm dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)); RMSNorm dx = r·(ĝ − x̂·mean(ĝ·x̂)).
    /// </summary>
    public static unsafe void RowNormBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int rows, int d, ReadOnlySpan<float> weight,
        ReadOnlySpan<double> mean, ReadOnlySpan<float> rstd, bool rms, Span<float> dx, Span<float> dweight, Span<float> dbias,
        bool accumulate = false)
    {
        bool hasW = !weight.IsEmpty, needDx = !dx.IsEmpty, needW = !dweight.IsEmpty, needB = !dbias.IsEmpty;
        // Row chunks, each with its own weight/bias partial sums (summed in chunk order: deterministic).
        int chunks = (int)Math.Clamp((long)rows * d * 6 / Simd.BlockWork, 1, Math.Min(4 * Par.Threads, Math.Max(1, rows)));
        var pw = needW ? new float[chunks * d] : null;
        var pb = needB ? new float[chunks * d] : null;
        var ones = hasW ? null : CreateOnes(d);
        fixed (float* px = x, pg = dy, pwt = weight, pr = rstd, pdx = dx)
        fixed (double* pm = mean)
        {
            nint ix = (nint)px, ig = (nint)pg, iw = (nint)pwt, im = (nint)pm, ir = (nint)pr, idx = (nint)pdx;
            Par.For(chunks, (long)rows * d * 6 / chunks, k =>
            {
                int lo = (int)((long)rows * k / chunks), hi = (int)((long)rows * (k + 1) / chunks);
                var w = hasW ? new ReadOnlySpan<float>((float*)iw, d) : ones;
                var dwp = pw is null ? default : pw.AsSpan(k * d, d);
                var dbp = pb is null ? default : pb.AsSpan(k * d, d);
                for (int r = lo; r < hi; r++)
                {
                    var xr = new ReadOnlySpan<float>((float*)ix + (long)r * d, d);
                    var gr = new ReadOnlySpan<float>((float*)ig + (long)r * d, d);
                    var (mh, ml) = Split(((double*)im)[r]);
                    float rs = ((float*)ir)[r];
                    double sg = 0, sgx = 0; // Σĝ, Σĝ·(x − mean)
                    RowGradSums(xr, gr, w, mh, ml, rs, dwp, dbp, ref sg, ref sgx);
                    if (!needDx) continue;
                    // dx = r·(ĝ − m1 − (x − mean)·m2), m1 = mean(ĝ) (0 for RMSNorm), m2 = r²·mean(ĝ·(x − mean))
                    double m2 = (double)rs * rs * sgx / d, m1 = rms ? 0 : sg / d;
                    var dxr = new Span<float>((float*)idx + (long)r * d, d);
                    var op = new RowGradOp(rs, (float)(m1 - ml * m2), (float)m2, mh);
                    if (!accumulate) Simd.Map(op, gr, w, xr, dxr);
                    else MapAccumulate(op, gr, w, xr, dxr);
                }
            });
        }
        if (pw is not null) SumChunks(pw, chunks, d, dweight);
        if (pb is not null) SumChunks(pb, chunks, d, dbias);
    }

    /// <summary>y += op(a, b, c).</summary>
    private static void MapAccumulate<T>(T op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, Span<float> y)
        where T : struct, ITernaryOp
    {
        int n = y.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            ref float ar = ref MemoryMarshal.GetReference(a);
            ref float br = ref MemoryMarshal.GetReference(b);
            ref float cr = ref MemoryMarshal.GetReference(c);
            ref float yr = ref MemoryMarshal.GetReference(y);
            for (; i <= n - 16; i += 16)
                (Vector512.LoadUnsafe(ref yr, (nuint)i) + op.Apply(Vector512.LoadUnsafe(ref ar, (nuint)i), Vector512.LoadUnsafe(ref br, (nuint)i),
                    Vector512.LoadUnsafe(ref cr, (nuint)i))).StoreUnsafe(ref yr, (nuint)i);
        }
        if (i == n) return;
        Span<float> tmp = stackalloc float[Math.Min(n - i, 256)];
        for (; i < n; i += tmp.Length)
        {
            int len = Math.Min(tmp.Length, n - i);
            var t = tmp[..len];
            Simd.Map(op, a.Slice(i, len), b.Slice(i, len), c.Slice(i, len), t);
            System.Numerics.Tensors.TensorPrimitives.Add(y.Slice(i, len), t, y.Slice(i, len));
        }
    }

    [ThreadStatic] private static float[]? _scratch;

    /// <summary>A per-thread buffer of at least n floats (contents undefined).</summary>
    private static float[] Scratch(int n)
    {
        if (_scratch is null || _scratch.Length < n) _scratch = new float[n];
        return _scratch;
    }

    private static float[] CreateOnes(int d) { var o = new float[d]; o.AsSpan().Fill(1f); return o; }

    [ThreadStatic] private static float[]? _zeros;

    private static ReadOnlySpan<float> ZerosRow(int d)
    {
        if (_zeros is null || _zeros.Length < d) _zeros = new float[d];
        return _zeros.AsSpan(0, d);
    }

    private static void SumChunks(float[] parts, int chunks, int d, Span<float> dst)
    {
        parts.AsSpan(0, d).CopyTo(dst);
        for (int k = 1; k < chunks; k++) System.Numerics.Tensors.TensorPrimitives.Add(dst, parts.AsSpan(k * d, d), dst);
    }

    /// <summary>One row: adds Σdy·w and Σdy·w·(x−mean) to sg, sgx; dw += dy·(x−mean)·r, db += dy (when not empty); mean = mh + ml.</summary>
    private static void RowGradSums(ReadOnlySpan<float> x, ReadOnlySpan<float> g, ReadOnlySpan<float> w, float mh, float ml, float r,
        Span<float> dw, Span<float> db, ref double sg, ref double sgx)
    {
        int n = x.Length, i = 0;
        bool needW = !dw.IsEmpty, needB = !db.IsEmpty;
        if (Vector512.IsHardwareAccelerated)
        {
            ref float xr = ref MemoryMarshal.GetReference(x);
            ref float gr = ref MemoryMarshal.GetReference(g);
            ref float wr = ref MemoryMarshal.GetReference(w);
            ref float dwr = ref MemoryMarshal.GetReference(dw);
            ref float dbr = ref MemoryMarshal.GetReference(db);
            var vm = Vector512.Create(mh); var vl = Vector512.Create(ml); var vr = Vector512.Create(r);
            while (i <= n - 16)
            {
                int end = Math.Min(n, i + 1024);
                Vector512<float> a1 = default, a2 = default;
                for (; i <= end - 16; i += 16)
                {
                    var gv = Vector512.LoadUnsafe(ref gr, (nuint)i);
                    var xc = (Vector512.LoadUnsafe(ref xr, (nuint)i) - vm) - vl;
                    var gw = gv * Vector512.LoadUnsafe(ref wr, (nuint)i);
                    a1 += gw;
                    a2 = Vector512.FusedMultiplyAdd(gw, xc, a2);
                    if (needW) Vector512.FusedMultiplyAdd(gv, xc * vr, Vector512.LoadUnsafe(ref dwr, (nuint)i)).StoreUnsafe(ref dwr, (nuint)i);
                    if (needB) (Vector512.LoadUnsafe(ref dbr, (nuint)i) + gv).StoreUnsafe(ref dbr, (nuint)i);
                }
                sg += Vector512.Sum(a1); sgx += Vector512.Sum(a2);
            }
        }
        for (; i < n; i++)
        {
            float xc = (x[i] - mh) - ml, gw = g[i] * w[i];
            sg += gw; sgx += (double)gw * xc;
            if (needW) dw[i] += g[i] * xc * r;
            if (needB) db[i] += g[i];
        }
    }

    // ---- op structs -----------------------------------------------------------------------------------

    /// <summary>op(a, b) + acc over (a, b, acc)</summary>
    private readonly struct AccumulateOp<T>(T op) : ITernaryOp where T : struct, IBinaryOp
    {
        public Vector512<float> Apply(Vector512<float> a, Vector512<float> b, Vector512<float> acc) => op.Apply(a, b) + acc;
        public Vector256<float> Apply(Vector256<float> a, Vector256<float> b, Vector256<float> acc) => op.Apply(a, b) + acc;
    }

    /// <summary>(x − m)·a + b</summary>
    private readonly struct AffineOp(float m, float a, float b) : IUnaryOp
    {
        public Vector512<float> Apply(Vector512<float> x) => Vector512.FusedMultiplyAdd(x - Vector512.Create(m), Vector512.Create(a), Vector512.Create(b));
        public Vector256<float> Apply(Vector256<float> x) => Vector256.FusedMultiplyAdd(x - Vector256.Create(m), Vector256.Create(a), Vector256.Create(b));
    }

    /// <summary>h·σ(h), h = (x − m)·a + b</summary>
    private readonly struct AffineSiluOp(float m, float a, float b) : IUnaryOp
    {
        public Vector512<float> Apply(Vector512<float> x)
        {
            var h = Vector512.FusedMultiplyAdd(x - Vector512.Create(m), Vector512.Create(a), Vector512.Create(b));
            return h * VMath.Sigmoid(h);
        }
        public Vector256<float> Apply(Vector256<float> x)
        {
            var h = Vector256.FusedMultiplyAdd(x - Vector256.Create(m), Vector256.Create(a), Vector256.Create(b));
            return h * VMath.Sigmoid(h);
        }
    }

    /// <summary>a·g + b·(x − m) + c over (g, x)</summary>
    private readonly struct LinOp(float a, float b, float c, float m) : IBinaryOp
    {
        public Vector512<float> Apply(Vector512<float> g, Vector512<float> x) =>
            Vector512.FusedMultiplyAdd(g, Vector512.Create(a), Vector512.FusedMultiplyAdd(x - Vector512.Create(m), Vector512.Create(b), Vector512.Create(c)));
        public Vector256<float> Apply(Vector256<float> g, Vector256<float> x) =>
            Vector256.FusedMultiplyAdd(g, Vector256.Create(a), Vector256.FusedMultiplyAdd(x - Vector256.Create(m), Vector256.Create(b), Vector256.Create(c)));
    }

    /// <summary>((x − mh) − ml)·r·w + b over (x, w, b)</summary>
    private readonly struct RowAffineOp(float mh, float ml, float r) : ITernaryOp
    {
        public Vector512<float> Apply(Vector512<float> x, Vector512<float> w, Vector512<float> b) =>
            Vector512.FusedMultiplyAdd((x - Vector512.Create(mh) - Vector512.Create(ml)) * Vector512.Create(r), w, b);
        public Vector256<float> Apply(Vector256<float> x, Vector256<float> w, Vector256<float> b) =>
            Vector256.FusedMultiplyAdd((x - Vector256.Create(mh) - Vector256.Create(ml)) * Vector256.Create(r), w, b);
    }

    /// <summary>((x − mh) − ml)·r·w over (x, w)</summary>
    private readonly struct RowScaleOp(float mh, float ml, float r) : IBinaryOp
    {
        public Vector512<float> Apply(Vector512<float> x, Vector512<float> w) => (x - Vector512.Create(mh) - Vector512.Create(ml)) * Vector512.Create(r) * w;
        public Vector256<float> Apply(Vector256<float> x, Vector256<float> w) => (x - Vector256.Create(mh) - Vector256.Create(ml)) * Vector256.Create(r) * w;
    }

    /// <summary>((x − mh) − ml)·r + b over (x, b)</summary>
    private readonly struct RowShiftOp(float mh, float ml, float r) : IBinaryOp
    {
        public Vector512<float> Apply(Vector512<float> x, Vector512<float> b) =>
            Vector512.FusedMultiplyAdd(x - Vector512.Create(mh) - Vector512.Create(ml), Vector512.Create(r), b);
        public Vector256<float> Apply(Vector256<float> x, Vector256<float> b) =>
            Vector256.FusedMultiplyAdd(x - Vector256.Create(mh) - Vector256.Create(ml), Vector256.Create(r), b);
    }

    /// <summary>r·((g·w − m1) − (x − mh)·m2) over (g, w, x): the centred form, exact 0 for one-element rows.</summary>
    private readonly struct RowGradOp(float r, float m1, float m2, float mh) : ITernaryOp
    {
        public Vector512<float> Apply(Vector512<float> g, Vector512<float> w, Vector512<float> x) =>
            Vector512.FusedMultiplyAdd(Vector512.Create(mh) - x, Vector512.Create(m2), g * w - Vector512.Create(m1)) * Vector512.Create(r);
        public Vector256<float> Apply(Vector256<float> g, Vector256<float> w, Vector256<float> x) =>
            Vector256.FusedMultiplyAdd(Vector256.Create(mh) - x, Vector256.Create(m2), g * w - Vector256.Create(m1)) * Vector256.Create(r);
    }
}
