using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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
        int i = SimdPath.Bits switch
        {
            512 => Moments<V512, D512>(x, shift, ref s1, ref s2),
            256 => Moments<V256, D256>(x, shift, ref s1, ref s2),
            128 => Moments<V128, D128>(x, shift, ref s1, ref s2),
            _ => 0,
        };
        for (; i < x.Length; i++)
        {
            double d = x[i] - shift;
            s1 += d; s2 += d * d;
        }
    }

    /// <summary>The vector part of <see cref="AccumulateMoments"/>: lanes widened to double (so long rows lose
    /// nothing to float sums), four accumulators each; returns where the tail begins.</summary>
    private static int Moments<V, D>(ReadOnlySpan<float> x, float shift, ref double s1, ref double s2)
        where V : unmanaged, IVec<V> where D : unmanaged, IVecF64<D, V>
    {
        int n = x.Length, i = 0;
        if (n < 2 * V.Count) return 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        var k = V.Create(shift);
        D a0 = D.Zero, a1 = D.Zero, a2 = D.Zero, a3 = D.Zero;
        D q0 = D.Zero, q1 = D.Zero, q2 = D.Zero, q3 = D.Zero;
        for (; i <= n - 2 * V.Count; i += 2 * V.Count)
        {
            var (l0, h0) = D.Widen(V.LoadUnsafe(ref xr, (nuint)i) - k);
            var (l1, h1) = D.Widen(V.LoadUnsafe(ref xr, (nuint)(i + V.Count)) - k);
            a0 += l0; a1 += h0; a2 += l1; a3 += h1;
            q0 = D.MultiplyAddEstimate(l0, l0, q0); q1 = D.MultiplyAddEstimate(h0, h0, q1);
            q2 = D.MultiplyAddEstimate(l1, l1, q2); q3 = D.MultiplyAddEstimate(h1, h1, q3);
        }
        s1 += D.Sum((a0 + a1) + (a2 + a3));
        s2 += D.Sum((q0 + q1) + (q2 + q3));
        return i;
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
        switch (SimdPath.Bits)
        {
            case 512: GradSums<V512>(x, g, mean, a, b, swish, dh, ref s1, ref s2); return;
            case 256: GradSums<V256>(x, g, mean, a, b, swish, dh, ref s1, ref s2); return;
            case 128: GradSums<V128>(x, g, mean, a, b, swish, dh, ref s1, ref s2); return;
        }
        bool write = !dh.IsEmpty;
        for (int i = 0; i < x.Length; i++)
        {
            float xc = x[i] - mean, gv = g[i];
            if (swish)
            {
                float h = float.MultiplyAddEstimate(xc, a, b), s = VMath.Sigmoid(h);
                gv = gv * s * float.MultiplyAddEstimate(h, 1f - s, 1f);
                if (write) dh[i] = gv;
            }
            s1 += gv; s2 += (double)gv * xc;
        }
    }

    private static void GradSums<V>(ReadOnlySpan<float> x, ReadOnlySpan<float> g, float mean, float a, float b, bool swish,
        Span<float> dh, ref double s1, ref double s2) where V : unmanaged, IVec<V>
    {
        int n = x.Length, i = 0;
        bool write = !dh.IsEmpty;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float gr = ref MemoryMarshal.GetReference(g);
        ref float dr = ref MemoryMarshal.GetReference(dh);
        var vm = V.Create(mean); var va = V.Create(a); var vb = V.Create(b);
        while (i <= n - V.Count)
        {
            // Float lanes over blocks of at most 1024 elements, blocks added in double; two accumulators each,
            // so consecutive vectors' adds do not wait on one another.
            int end = Math.Min(n, i + 1024);
            V acc1 = V.Zero, acc2 = V.Zero, acc3 = V.Zero, acc4 = V.Zero;
            if (!swish)
            {
                for (; i <= end - 2 * V.Count; i += 2 * V.Count)
                {
                    var g0 = V.LoadUnsafe(ref gr, (nuint)i);
                    var g1 = V.LoadUnsafe(ref gr, (nuint)(i + V.Count));
                    acc1 += g0; acc3 += g1;
                    acc2 = V.MultiplyAddEstimate(g0, V.LoadUnsafe(ref xr, (nuint)i) - vm, acc2);
                    acc4 = V.MultiplyAddEstimate(g1, V.LoadUnsafe(ref xr, (nuint)(i + V.Count)) - vm, acc4);
                }
                for (; i <= end - V.Count; i += V.Count)
                {
                    var g0 = V.LoadUnsafe(ref gr, (nuint)i);
                    acc1 += g0;
                    acc2 = V.MultiplyAddEstimate(g0, V.LoadUnsafe(ref xr, (nuint)i) - vm, acc2);
                }
            }
            else
                for (; i <= end - V.Count; i += V.Count)
                {
                    var xc = V.LoadUnsafe(ref xr, (nuint)i) - vm;
                    var gv = SiluGrad(V.LoadUnsafe(ref gr, (nuint)i), xc, va, vb);
                    if (write) gv.StoreUnsafe(ref dr, (nuint)i);
                    acc1 += gv;
                    acc2 = V.MultiplyAddEstimate(gv, xc, acc2);
                }
            s1 += V.Sum(acc1 + acc3);
            s2 += V.Sum(acc2 + acc4);
        }
        if (i < n) GradSumsTail<V>(x[i..], g[i..n], mean, a, b, swish, write ? dh[i..n] : default, ref s1, ref s2);
    }

    /// <summary>The tail of <see cref="GradSums{V}"/> (fewer elements than a vector) through zero-padded vectors: a zero
    /// upstream gradient adds nothing. A method of its own, so GradSums has no stackalloc (see Simd's drivers).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void GradSumsTail<V>(ReadOnlySpan<float> x, ReadOnlySpan<float> g, float mean, float a, float b, bool swish,
        Span<float> dh, ref double s1, ref double s2) where V : unmanaged, IVec<V>
    {
        Span<float> px = stackalloc float[16], pg = stackalloc float[16];
        px.Clear(); pg.Clear();
        x.CopyTo(px); g.CopyTo(pg);
        var xc = V.LoadUnsafe(ref px[0], 0) - V.Create(mean);
        var gv = V.LoadUnsafe(ref pg[0], 0);
        if (swish)
        {
            gv = SiluGrad(gv, xc, V.Create(a), V.Create(b));
            if (!dh.IsEmpty) { gv.StoreUnsafe(ref pg[0], 0); pg[..dh.Length].CopyTo(dh); }
        }
        s1 += V.Sum(gv);
        s2 += V.Sum(gv * xc);
    }

    /// <summary>g·silu'(h) with h = xc·a + b: g·σ(h)·(1 + h·(1 − σ(h))).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V SiluGrad<V>(V g, V xc, V a, V b) where V : unmanaged, IVec<V>
    {
        var h = V.MultiplyAddEstimate(xc, a, b);
        var s = VMath.Sigmoid(h);
        return g * s * V.MultiplyAddEstimate(h, V.One - s, V.One);
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
                        if (accumulate) Simd.MapAccumulate(op, dh, xr, dxr);
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
                    else Simd.MapAccumulate(op, gr, w, xr, dxr);
                }
            });
        }
        if (pw is not null) SumChunks(pw, chunks, d, dweight);
        if (pb is not null) SumChunks(pb, chunks, d, dbias);
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
        for (int k = 1; k < chunks; k++) Elementwise.AddInPlace(dst, parts.AsSpan(k * d, d));
    }

    /// <summary>One row: adds Σdy·w and Σdy·w·(x−mean) to sg, sgx; dw += dy·(x−mean)·r, db += dy (when not empty); mean = mh + ml.</summary>
    private static void RowGradSums(ReadOnlySpan<float> x, ReadOnlySpan<float> g, ReadOnlySpan<float> w, float mh, float ml, float r,
        Span<float> dw, Span<float> db, ref double sg, ref double sgx)
    {
        int i = SimdPath.Bits switch
        {
            512 => RowGradSums<V512>(x, g, w, mh, ml, r, dw, db, ref sg, ref sgx),
            256 => RowGradSums<V256>(x, g, w, mh, ml, r, dw, db, ref sg, ref sgx),
            128 => RowGradSums<V128>(x, g, w, mh, ml, r, dw, db, ref sg, ref sgx),
            _ => 0,
        };
        bool needW = !dw.IsEmpty, needB = !db.IsEmpty;
        for (; i < x.Length; i++)
        {
            float xc = (x[i] - mh) - ml, gw = g[i] * w[i];
            sg += gw; sgx += (double)gw * xc;
            if (needW) dw[i] = float.MultiplyAddEstimate(g[i], xc * r, dw[i]);
            if (needB) db[i] += g[i];
        }
    }

    /// <summary>The vector part of <see cref="RowGradSums"/>; returns where the tail begins.</summary>
    private static int RowGradSums<V>(ReadOnlySpan<float> x, ReadOnlySpan<float> g, ReadOnlySpan<float> w, float mh, float ml, float r,
        Span<float> dw, Span<float> db, ref double sg, ref double sgx) where V : unmanaged, IVec<V>
    {
        int n = x.Length, i = 0;
        bool needW = !dw.IsEmpty, needB = !db.IsEmpty;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float gr = ref MemoryMarshal.GetReference(g);
        ref float wr = ref MemoryMarshal.GetReference(w);
        ref float dwr = ref MemoryMarshal.GetReference(dw);
        ref float dbr = ref MemoryMarshal.GetReference(db);
        var vm = V.Create(mh); var vl = V.Create(ml); var vr = V.Create(r);
        while (i <= n - V.Count)
        {
            // float lanes over blocks of at most 1024 elements, blocks added in double
            int end = Math.Min(n, i + 1024);
            V a1 = V.Zero, a2 = V.Zero;
            for (; i <= end - V.Count; i += V.Count)
            {
                var gv = V.LoadUnsafe(ref gr, (nuint)i);
                var xc = (V.LoadUnsafe(ref xr, (nuint)i) - vm) - vl;
                var gw = gv * V.LoadUnsafe(ref wr, (nuint)i);
                a1 += gw;
                a2 = V.MultiplyAddEstimate(gw, xc, a2);
                if (needW) V.MultiplyAddEstimate(gv, xc * vr, V.LoadUnsafe(ref dwr, (nuint)i)).StoreUnsafe(ref dwr, (nuint)i);
                if (needB) (V.LoadUnsafe(ref dbr, (nuint)i) + gv).StoreUnsafe(ref dbr, (nuint)i);
            }
            sg += V.Sum(a1); sgx += V.Sum(a2);
        }
        return i;
    }

    // ---- op structs (a vector form and its scalar reference, as Simd's drivers take them) ---------------

    /// <summary>(x − m)·a + b</summary>
    private readonly struct AffineOp(float m, float a, float b) : IUnaryOp
    {
        public float Apply(float x) => float.MultiplyAddEstimate(x - m, a, b);
        public V Apply<V>(V x) where V : unmanaged, IVec<V> => V.MultiplyAddEstimate(x - V.Create(m), V.Create(a), V.Create(b));
    }

    /// <summary>h·σ(h), h = (x − m)·a + b</summary>
    private readonly struct AffineSiluOp(float m, float a, float b) : IUnaryOp
    {
        public float Apply(float x)
        {
            float h = float.MultiplyAddEstimate(x - m, a, b);
            return h * VMath.Sigmoid(h);
        }
        public V Apply<V>(V x) where V : unmanaged, IVec<V>
        {
            var h = V.MultiplyAddEstimate(x - V.Create(m), V.Create(a), V.Create(b));
            return h * VMath.Sigmoid(h);
        }
    }

    /// <summary>a·g + b·(x − m) + c over (g, x)</summary>
    private readonly struct LinOp(float a, float b, float c, float m) : IBinaryOp
    {
        public float Apply(float g, float x) => float.MultiplyAddEstimate(g, a, float.MultiplyAddEstimate(x - m, b, c));
        public V Apply<V>(V g, V x) where V : unmanaged, IVec<V> => V.MultiplyAddEstimate(g, V.Create(a), V.MultiplyAddEstimate(x - V.Create(m), V.Create(b), V.Create(c)));
    }

    /// <summary>((x − mh) − ml)·r·w + b over (x, w, b)</summary>
    private readonly struct RowAffineOp(float mh, float ml, float r) : ITernaryOp
    {
        public float Apply(float x, float w, float b) => float.MultiplyAddEstimate((x - mh - ml) * r, w, b);
        public V Apply<V>(V x, V w, V b) where V : unmanaged, IVec<V> => V.MultiplyAddEstimate((x - V.Create(mh) - V.Create(ml)) * V.Create(r), w, b);
    }

    /// <summary>((x − mh) − ml)·r·w over (x, w)</summary>
    private readonly struct RowScaleOp(float mh, float ml, float r) : IBinaryOp
    {
        public float Apply(float x, float w) => (x - mh - ml) * r * w;
        public V Apply<V>(V x, V w) where V : unmanaged, IVec<V> => (x - V.Create(mh) - V.Create(ml)) * V.Create(r) * w;
    }

    /// <summary>((x − mh) − ml)·r + b over (x, b)</summary>
    private readonly struct RowShiftOp(float mh, float ml, float r) : IBinaryOp
    {
        public float Apply(float x, float b) => float.MultiplyAddEstimate(x - mh - ml, r, b);
        public V Apply<V>(V x, V b) where V : unmanaged, IVec<V> => V.MultiplyAddEstimate(x - V.Create(mh) - V.Create(ml), V.Create(r), b);
    }

    /// <summary>r·((g·w − m1) − (x − mh)·m2) over (g, w, x): the centred form, exact 0 for one-element rows.</summary>
    private readonly struct RowGradOp(float r, float m1, float m2, float mh) : ITernaryOp
    {
        public float Apply(float g, float w, float x) => float.MultiplyAddEstimate(mh - x, m2, g * w - m1) * r;
        public V Apply<V>(V g, V w, V x) where V : unmanaged, IVec<V> => V.MultiplyAddEstimate(V.Create(mh) - x, V.Create(m2), g * w - V.Create(m1)) * V.Create(r);
    }
}
