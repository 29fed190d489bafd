using ILGPU;
using ILGPU.Algorithms;

namespace Crt.Tensors.Backends.Ilgpu;

/// <summary>
/// Shape and switches of a GroupNorm or BatchNorm launch over x viewed as [N, C, S]. Flags are ints (0/1) because
/// kernel parameters must be blittable.
/// </summary>
internal struct NormShape
{
    public int N, C, S, Groups, HasW, HasB, Swish, Accumulate, Training, WantDw, WantDb;
    public float Eps, Momentum;
}

/// <summary>
/// GroupNorm (with fused swish), BatchNorm and L2 normalisation for the GPU backend, with the CPU kernels' semantics
/// (<c>Kernels/Cpu/NormKernels.cs</c>, <c>Indexing.cs</c>). Statistics are one thread per group or channel, accumulated
/// in double around a shift (the first element), so a large mean does not cancel the variance; the mean is then kept
/// as a float head plus remainder (hi + lo) so that x − mean is exact near the mean, as on the CPU. Elementwise passes
/// are one thread per element; nothing is scattered, so every result is deterministic.
/// Saved statistics are float tensors laid out row-wise: [hi, lo, rstd] (GroupNorm, one row per (n, group)) and
/// [hi, lo, rstd, scale, shift] (BatchNorm, one row per channel).
/// </summary>
internal static class GpuNormKernels
{
    private static float Sigmoid(float x) => 1f / (1f + XMath.Exp(-x));

    /// <summary>Per (n, group): mean as hi/lo and 1/σ into stats [3, N·Groups].</summary>
    public static void GroupNormStats(Index1D t, ArrayView<float> x, ArrayView<float> stats, NormShape s, Launch p)
    {
        int m = s.C / s.Groups * s.S;
        for (int gi = t; gi < p.N; gi += p.Threads)
        {
            long off = (long)gi * m; // samples are [C, S] and groups are contiguous channel runs
            float shift = x[off];
            double s1 = 0, s2 = 0;
            for (int j = 0; j < m; j++) { double d = x[off + j] - shift; s1 += d; s2 += d * d; }
            double mm = s1 / m, mu = shift + mm, variance = XMath.Max(s2 / m - mm * mm, 0.0);
            float hi = (float)mu;
            stats[gi] = hi;
            stats[p.N + gi] = (float)(mu - hi);
            stats[2 * p.N + gi] = (float)(1.0 / XMath.Sqrt(variance + s.Eps));
        }
    }

    /// <summary>y = h or swish(h), h = (x − mean)·rstd·w + b, per element.</summary>
    public static void GroupNormApply(Index1D t, ArrayView<float> x, ArrayView<float> w, ArrayView<float> b, ArrayView<float> stats,
        ArrayView<float> y, NormShape s, Launch p)
    {
        int cg = s.C / s.Groups, groups = s.N * s.Groups;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int ch = idx / s.S % s.C, gi = idx / (s.S * s.C) * s.Groups + ch / cg;
            float r = stats[2 * groups + gi], a = s.HasW != 0 ? r * w[ch] : r;
            float bb = (s.HasB != 0 ? b[ch] : 0f) - stats[groups + gi] * a;
            float h = (x[idx] - stats[gi]) * a + bb;
            y[idx] = s.Swish != 0 ? h * Sigmoid(h) : h;
        }
    }

    /// <summary>dh = g, or g·silu'(h) with h recomputed from x and the statistics.</summary>
    private static float GroupNormDh(float g, float xc, float a, float b, int swish)
    {
        if (swish == 0) return g;
        float h = xc * a + b, sg = Sigmoid(h);
        return g * sg * (h * (1f - sg) + 1f);
    }

    /// <summary>Per (n, channel): sums [2, N·C] = Σ dh and Σ dh·(x − mean) over the channel's S elements, in double.</summary>
    public static void GroupNormChannelSums(Index1D t, ArrayView<float> x, ArrayView<float> g, ArrayView<float> w, ArrayView<float> b,
        ArrayView<float> stats, ArrayView<float> sums, NormShape s, Launch p)
    {
        int cg = s.C / s.Groups, groups = s.N * s.Groups;
        for (int nc = t; nc < p.N; nc += p.Threads)
        {
            int ch = nc % s.C, gi = nc / s.C * s.Groups + ch / cg;
            float hi = stats[gi], lo = stats[groups + gi], r = stats[2 * groups + gi];
            float a = s.HasW != 0 ? r * w[ch] : r, bb = (s.HasB != 0 ? b[ch] : 0f) - lo * a;
            long at = (long)nc * s.S;
            double a1 = 0, a2 = 0;
            for (int j = 0; j < s.S; j++)
            {
                float xc = x[at + j] - hi, dh = GroupNormDh(g[at + j], xc, a, bb, s.Swish);
                a1 += dh;
                a2 += (double)dh * xc;
            }
            sums[nc] = (float)a1;
            sums[p.N + nc] = (float)(a2 - lo * a1); // Σdh·(x − mean) from Σdh·(x − hi)
        }
    }

    /// <summary>
    /// dx = r·(w·dh − mean(w·dh) − x̂·mean(w·dh·x̂)) per element, the group's means from the channel sums (written, or
    /// added into dx with Accumulate).
    /// </summary>
    public static void GroupNormInputGrad(Index1D t, ArrayView<float> x, ArrayView<float> g, ArrayView<float> w, ArrayView<float> b,
        ArrayView<float> stats, ArrayView<float> sums, ArrayView<float> dx, NormShape s, Launch p)
    {
        int cg = s.C / s.Groups, groups = s.N * s.Groups, nc = s.N * s.C;
        long m = (long)cg * s.S;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int ch = idx / s.S % s.C, ni = idx / (s.S * s.C), gi = ni * s.Groups + ch / cg;
            float hi = stats[gi], lo = stats[groups + gi], r = stats[2 * groups + gi];
            double t1 = 0, t2 = 0; // Σ_ch w·Σdh, Σ_ch w·Σdh·(x − mean) over the group
            for (int j = 0; j < cg; j++)
            {
                int cj = (gi % s.Groups) * cg + j;
                double wj = s.HasW != 0 ? w[cj] : 1f;
                t1 += wj * sums[ni * s.C + cj];
                t2 += wj * sums[nc + ni * s.C + cj];
            }
            float bb = (float)(-(double)r * r * r * t2 / m), cc = (float)(-r * t1 / m);
            float wc = s.HasW != 0 ? w[ch] : 1f, a = r * wc, bias = (s.HasB != 0 ? b[ch] : 0f) - lo * a;
            float xc = x[idx] - hi, dh = GroupNormDh(g[idx], xc, a, bias, s.Swish);
            float v = dh * a + xc * bb + (cc - bb * lo);
            if (s.Accumulate != 0) dx[idx] += v; else dx[idx] = v;
        }
    }

    /// <summary>dw[ch] = Σ_n rstd·Σdh·(x − mean), db[ch] = Σ_n Σdh (one thread per channel; WantDw/WantDb).</summary>
    public static void GroupNormParamGrads(Index1D t, ArrayView<float> stats, ArrayView<float> sums, ArrayView<float> dw, ArrayView<float> db,
        NormShape s, Launch p)
    {
        int cg = s.C / s.Groups, groups = s.N * s.Groups, nc = s.N * s.C;
        for (int ch = t; ch < p.N; ch += p.Threads)
        {
            double gw = 0, gb = 0;
            for (int ni = 0; ni < s.N; ni++)
            {
                gw += (double)stats[2 * groups + ni * s.Groups + ch / cg] * sums[nc + ni * s.C + ch];
                gb += sums[ni * s.C + ch];
            }
            if (s.WantDw != 0) dw[ch] = (float)gw;
            if (s.WantDb != 0) db[ch] = (float)gb;
        }
    }

    /// <summary>
    /// Per channel: the statistics (batch moments when Training, updating the running mean and the running variance with
    /// the unbiased variance; else the running ones) and the affine map y = (x − hi)·scale + shift, into saved [5, C].
    /// </summary>
    public static void BatchNormStats(Index1D t, ArrayView<float> x, ArrayView<float> w, ArrayView<float> b, ArrayView<float> runningMean,
        ArrayView<float> runningVar, ArrayView<float> saved, NormShape s, Launch p)
    {
        int c = s.C;
        for (int ch = t; ch < c; ch += p.Threads)
        {
            float hi, lo = 0f, r;
            if (s.Training != 0)
            {
                long count = (long)s.N * s.S;
                float shift = x[(long)ch * s.S];
                double s1 = 0, s2 = 0;
                for (int ni = 0; ni < s.N; ni++)
                {
                    long at = ((long)ni * c + ch) * s.S;
                    for (int j = 0; j < s.S; j++) { double d = x[at + j] - shift; s1 += d; s2 += d * d; }
                }
                double mm = s1 / count, mu = shift + mm, variance = XMath.Max(s2 / count - mm * mm, 0.0);
                hi = (float)mu;
                lo = (float)(mu - hi);
                r = (float)(1.0 / XMath.Sqrt(variance + s.Eps));
                double m = s.Momentum;
                runningMean[ch] = (float)((1.0 - m) * runningMean[ch] + m * mu);
                runningVar[ch] = (float)((1.0 - m) * runningVar[ch] + m * variance * count / (count - 1));
            }
            else
            {
                hi = runningMean[ch];
                r = (float)(1.0 / XMath.Sqrt(runningVar[ch] + (double)s.Eps));
            }
            float scale = s.HasW != 0 ? r * w[ch] : r;
            saved[ch] = hi;
            saved[c + ch] = lo;
            saved[2 * c + ch] = r;
            saved[3 * c + ch] = scale;
            saved[4 * c + ch] = (s.HasB != 0 ? b[ch] : 0f) - lo * scale;
        }
    }

    /// <summary>y = (x − hi)·scale + shift per element.</summary>
    public static void BatchNormApply(Index1D t, ArrayView<float> x, ArrayView<float> saved, ArrayView<float> y, NormShape s, Launch p)
    {
        int c = s.C;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int ch = idx / s.S % c;
            y[idx] = (x[idx] - saved[ch]) * saved[3 * c + ch] + saved[4 * c + ch];
        }
    }

    /// <summary>
    /// Per channel: Σdy and Σdy·(x − mean) in double; dw = rstd·Σdy·(x − mean) and db = Σdy when wanted, and the
    /// coefficients [2, C] of dx = scale·dy + b·(x − hi) + cc (b = cc = 0 with running statistics, which are constants).
    /// </summary>
    public static void BatchNormGradSums(Index1D t, ArrayView<float> x, ArrayView<float> g, ArrayView<float> w, ArrayView<float> saved,
        ArrayView<float> coef, ArrayView<float> dw, ArrayView<float> db, NormShape s, Launch p)
    {
        int c = s.C;
        long count = (long)s.N * s.S;
        for (int ch = t; ch < c; ch += p.Threads)
        {
            float hi = saved[ch], lo = saved[c + ch];
            double sdy = 0, sdyx = 0;
            for (int ni = 0; ni < s.N; ni++)
            {
                long at = ((long)ni * c + ch) * s.S;
                for (int j = 0; j < s.S; j++) { double gv = g[at + j]; sdy += gv; sdyx += gv * (x[at + j] - hi); }
            }
            sdyx -= lo * sdy;
            double r = saved[2 * c + ch], wv = s.HasW != 0 ? w[ch] : 1f;
            float bb = 0f, cc = 0f;
            if (s.Training != 0)
            {
                // dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·w, x̂ = (x − mean)·r
                bb = (float)(-r * r * r * wv * sdyx / count);
                cc = (float)(-r * wv * sdy / count - bb * (double)lo);
            }
            coef[ch] = bb;
            coef[c + ch] = cc;
            if (s.WantDw != 0) dw[ch] = (float)(r * sdyx);
            if (s.WantDb != 0) db[ch] = (float)sdy;
        }
    }

    /// <summary>dx = scale·dy + b·(x − hi) + cc per element.</summary>
    public static void BatchNormInputGrad(Index1D t, ArrayView<float> x, ArrayView<float> g, ArrayView<float> saved, ArrayView<float> coef,
        ArrayView<float> dx, NormShape s, Launch p)
    {
        int c = s.C;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int ch = idx / s.S % c;
            dx[idx] = g[idx] * saved[3 * c + ch] + (x[idx] - saved[ch]) * coef[ch] + coef[c + ch];
        }
    }

    /// <summary>y = x / max(‖x‖₂, eps) along the middle axis of [outer, n, inner] (I0 = n, I1 = inner, P = eps); norms saved.</summary>
    public static void L2Normalize(Index1D t, ArrayView<float> x, ArrayView<float> norms, ArrayView<float> y, Launch p)
    {
        int n = p.I0, inner = p.I1;
        for (int v = t; v < p.N; v += p.Threads)
        {
            long at = (long)(v / inner) * n * inner + v % inner;
            double ss = 0;
            for (int j = 0; j < n; j++) { double e = x[at + (long)j * inner]; ss += e * e; }
            float s = (float)XMath.Max(XMath.Sqrt(ss), p.P);
            norms[v] = s;
            float inv = 1f / s;
            for (int j = 0; j < n; j++) y[at + (long)j * inner] = x[at + (long)j * inner] * inv;
        }
    }

    /// <summary>dx = (g − y·⟨g, y⟩)/‖x‖, or g/eps where the norm was clamped (the clamp passes no gradient to the norm).</summary>
    public static void L2NormalizeBackward(Index1D t, ArrayView<float> g, ArrayView<float> y, ArrayView<float> x, ArrayView<float> norms,
        ArrayView<float> dx, Launch p)
    {
        int n = p.I0, inner = p.I1;
        for (int v = t; v < p.N; v += p.Threads)
        {
            long at = (long)(v / inner) * n * inner + v % inner;
            float inv = 1f / norms[v];
            double ss = 0, dot = 0;
            for (int j = 0; j < n; j++)
            {
                long e = at + (long)j * inner;
                double xe = x[e];
                ss += xe * xe;
                dot += (double)g[e] * y[e];
            }
            bool clamped = XMath.Sqrt(ss) < p.P;
            float fd = clamped ? 0f : (float)dot;
            for (int j = 0; j < n; j++)
            {
                long e = at + (long)j * inner;
                dx[e] = (g[e] - y[e] * fd) * inv;
            }
        }
    }
}
