using System.Runtime.CompilerServices;
using static Crt.Tensors.Kernels.Cpu.AttentionKernels;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// The block-level steps of <see cref="AttentionKernels"/>' flash loops, as static members so the loops are written
/// once over <c>TBlocks : IAttentionBlocks</c> and compiled per implementation: <see cref="SimdBlocks{V}"/> at each vector
/// width and <see cref="ScalarBlocks"/>, the reference.
/// <para>Score blocks are <see cref="AttentionKernels.Bc"/> wide. Block products take
/// diag = off + i0 − j0 for a causal block (row r of the block sees its first diag + r + 1 keys) and
/// <see cref="AttentionKernels.NoDiag"/> otherwise; they skip the parts of a block that the mask zeroes anyway.
/// Row counts of the products are multiples of 4 and padded widths (dp) multiples of 16.</para>
/// </summary>
internal unsafe interface IAttentionBlocks
{
    /// <summary>
    /// C [rows, Bc] = A [rows, lda] · BT [kdim, Bc] (row stride ldbt) over the first kdim columns of A.
    /// Columns a row cannot see (past diag + r) may be left unwritten.
    /// </summary>
    static abstract void ScoresAbt(float* a, int lda, float* bt, int ldbt, int kdim, int rows, float* c, int diag);

    /// <summary>
    /// C [rows, dp] += A [rows, lda] · B [kcount, dp] over the first kcount columns of A; columns of A past
    /// diag + r must be zero for the rows that have them, and are skipped.
    /// </summary>
    static abstract void AccumulateAb(float* a, int lda, float* b, int dp, int rows, int kcount, float* c, int diag);

    /// <summary>
    /// C [ccount, dp] += Aᵀ · B with A [rows, lda] (its first ccount columns, ccount a multiple of 4) and B [rows, dp];
    /// rows of A before the first row that sees a column (r &lt; col − diag) must be zero there, and are skipped.
    /// </summary>
    static abstract void AccumulateAtb(float* a, int lda, float* b, int dp, int rows, int ccount, float* c, int diag);

    /// <summary>
    /// One row of a score block (Bc wide, first <paramref name="vis"/> visible): folds it into the running
    /// max m and sum l, overwrites it with exp(s − m_new) (zeros where masked) and returns the factor
    /// exp(m_old − m_new) by which the row's output accumulator must be rescaled (1 when nothing is visible).
    /// </summary>
    static abstract float OnlineSoftmaxRow(float* sr, int vis, ref float m, ref float l);

    /// <summary>Backward row: p = exp(s − lse) on the visible part (0 elsewhere), ds = p∘(dp − di); both in place.</summary>
    static abstract void ProbAndScoreGradRow(float* pr, float* dr, int vis, float lse, float di);

    /// <summary>dst[0..n) = src[0..n)·a.</summary>
    static abstract void ScaledCopy(float* src, float* dst, int n, float a);

    /// <summary>dst[0..n) = g[0..n); returns Σ g∘o.</summary>
    static abstract float CopyAndDot(float* g, float* o, float* dst, int n);

    /// <summary>x[0..dp) ·= a (dp a multiple of 16).</summary>
    static abstract void ScaleRow(float* x, int dp, float a);
}

/// <summary>
/// The block steps on vectors of one width. The products cut C into strips of the widest register tile that fits
/// (<see cref="AttentionTiles.MaxVectors{V}"/>: 4 vectors at 512 bits, 3 at 256 and 128) and a narrower last strip.
/// </summary>
internal readonly unsafe struct SimdBlocks<V> : IAttentionBlocks where V : unmanaged, IVec<V>
{
    /// <summary>Lanes c0, c0+1, … below vis (the visible keys of a row), as a mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V Visible(int vis, int c0) => V.LessThan(V.Indices + V.Create(c0), V.Create(vis));

    public static void ScoresAbt(float* a, int lda, float* bt, int ldbt, int kdim, int rows, float* c, int diag)
    {
        int w = V.Count, maxv = AttentionTiles.MaxVectors<V>();
        for (int r0 = 0; r0 < rows; r0 += 4)
        {
            // only the vectors some row of the four can see: a causal block's upper triangle is skipped
            int vis = Math.Clamp(diag + r0 + 4, 0, Bc), nv = (vis + w - 1) / w;
            float* ar = a + (long)r0 * lda, o = c + r0 * Bc;
            for (int v0 = 0; v0 < nv;)
            {
                int n = Math.Min(maxv, nv - v0);
                AttentionTiles.Tile<V>(n, ar, lda, 1, bt + v0 * w, ldbt, kdim, o + v0 * w, Bc, load: false);
                v0 += n;
            }
        }
    }

    public static void AccumulateAb(float* a, int lda, float* b, int dp, int rows, int kcount, float* c, int diag)
    {
        // column strips outside, so one strip of B (kcount × n vectors) stays in L1 across the row groups
        int w = V.Count, maxv = AttentionTiles.MaxVectors<V>(), nv = dp / w;
        for (int v0 = 0; v0 < nv;)
        {
            int n = Math.Min(maxv, nv - v0);
            for (int r0 = 0; r0 < rows; r0 += 4)
            {
                int kc = Math.Clamp(diag + r0 + 4, 0, kcount);
                if (kc > 0) AttentionTiles.Tile<V>(n, a + (long)r0 * lda, lda, 1, b + v0 * w, dp, kc, c + (long)r0 * dp + v0 * w, dp, load: true);
            }
            v0 += n;
        }
    }

    public static void AccumulateAtb(float* a, int lda, float* b, int dp, int rows, int ccount, float* c, int diag)
    {
        int w = V.Count, maxv = AttentionTiles.MaxVectors<V>(), nv = dp / w;
        for (int v0 = 0; v0 < nv;)
        {
            int n = Math.Min(maxv, nv - v0);
            for (int c0 = 0; c0 < ccount; c0 += 4)
            {
                int r0 = Math.Max(0, c0 - diag);
                if (r0 < rows)
                    AttentionTiles.Tile<V>(n, a + (long)r0 * lda + c0, 1, lda, b + (long)r0 * dp + v0 * w, dp, rows - r0,
                        c + (long)c0 * dp + v0 * w, dp, load: true);
            }
            v0 += n;
        }
    }

    // Rows: whole vectors of visible keys, at most one partly visible vector under a mask, then zeros. The max uses the
    // native max (a NaN score still reaches the output through exp, which keeps NaN).

    [MethodImpl(MethodImplOptions.NoInlining)] // own inlining budget for the exp (see SoftmaxRows)
    public static float OnlineSoftmaxRow(float* sr, int vis, ref float m, ref float l)
    {
        if (vis == 0) { new Span<float>(sr, Bc).Clear(); return 1f; }
        int full = vis / V.Count * V.Count, c0 = 0;
        var ninf = V.Create(float.NegativeInfinity);
        V mx0 = ninf, mx1 = ninf;
        for (; c0 + 2 * V.Count <= full; c0 += 2 * V.Count)
        {
            mx0 = V.MaxNative(mx0, V.Load(sr + c0));
            mx1 = V.MaxNative(mx1, V.Load(sr + c0 + V.Count));
        }
        if (c0 < full) mx0 = V.MaxNative(mx0, V.Load(sr + c0));
        if (full < vis) mx1 = V.MaxNative(mx1, V.Select(Visible(vis, full), V.Load(sr + full), ninf));
        float mNew = Math.Max(m, V.MaxAcross(V.MaxNative(mx0, mx1)));

        // one loop and one exp call site: the partly visible vector runs whole and is masked after (see SoftmaxRows)
        var mv = V.Create(mNew);
        var sum = V.Zero;
        int end = (vis + V.Count - 1) / V.Count * V.Count;
        for (c0 = 0; c0 < end; c0 += V.Count)
        {
            var p = SimdExp.Exp(V.Load(sr + c0) - mv);
            if (c0 == full) p = V.Select(Visible(vis, full), p, V.Zero);
            p.Store(sr + c0);
            sum += p;
        }
        for (; c0 < Bc; c0 += V.Count) V.Zero.Store(sr + c0);
        float rowSum = V.Sum(sum); // before the call below: no vector stays live across it
        float alpha = MathF.Exp(m - mNew);
        l = l * alpha + rowSum;
        m = mNew;
        return alpha;
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // own inlining budget for the exp (see SoftmaxRows)
    public static void ProbAndScoreGradRow(float* pr, float* dr, int vis, float lse, float di)
    {
        int full = vis / V.Count * V.Count, end = (vis + V.Count - 1) / V.Count * V.Count, c0 = 0;
        var lv = V.Create(lse); var dv = V.Create(di);
        for (; c0 < end; c0 += V.Count)
        {
            var p = SimdExp.Exp(V.Load(pr + c0) - lv);
            var ds = p * (V.Load(dr + c0) - dv);
            if (c0 == full)
            {
                // masked lanes may hold stale values (the products skip what the mask hides): select, don't multiply by 0
                var k = Visible(vis, full);
                p = V.Select(k, p, V.Zero);
                ds = V.Select(k, ds, V.Zero);
            }
            p.Store(pr + c0);
            ds.Store(dr + c0);
        }
        for (; c0 < Bc; c0 += V.Count) { V.Zero.Store(pr + c0); V.Zero.Store(dr + c0); }
    }

    public static void ScaledCopy(float* src, float* dst, int n, float a)
    {
        int i = 0;
        var av = V.Create(a);
        for (; i + V.Count <= n; i += V.Count) (V.Load(src + i) * av).Store(dst + i);
        for (; i < n; i++) dst[i] = src[i] * a;
    }

    public static float CopyAndDot(float* g, float* o, float* dst, int n)
    {
        int i = 0;
        var acc = V.Zero;
        for (; i + V.Count <= n; i += V.Count)
        {
            var gv = V.Load(g + i);
            gv.Store(dst + i);
            acc = V.Fma(gv, V.Load(o + i), acc);
        }
        float sum = V.Sum(acc);
        for (; i < n; i++) { dst[i] = g[i]; sum += g[i] * o[i]; }
        return sum;
    }

    public static void ScaleRow(float* x, int dp, float a)
    {
        var av = V.Create(a);
        for (int i = 0; i < dp; i += V.Count) (V.Load(x + i) * av).Store(x + i);
    }
}

/// <summary>The block steps in plain scalar loops: the reference the vector paths are tested against (width 0).</summary>
internal readonly unsafe struct ScalarBlocks : IAttentionBlocks
{
    public static void ScoresAbt(float* a, int lda, float* bt, int ldbt, int kdim, int rows, float* c, int diag)
    {
        for (int r = 0; r < rows; r++)
        {
            float* cr = c + r * Bc;
            int vis = Math.Clamp(diag + r + 1, 0, Bc);
            new Span<float>(cr, vis).Clear();
            for (int e = 0; e < kdim; e++)
            {
                float x = a[(long)r * lda + e];
                float* b = bt + (long)e * ldbt;
                for (int j = 0; j < vis; j++) cr[j] += x * b[j];
            }
        }
    }

    public static void AccumulateAb(float* a, int lda, float* b, int dp, int rows, int kcount, float* c, int diag)
    {
        for (int r = 0; r < rows; r++)
        {
            float* cr = c + (long)r * dp;
            int kc = Math.Clamp(diag + r + 1, 0, kcount);
            for (int e = 0; e < kc; e++)
            {
                float x = a[(long)r * lda + e];
                float* br = b + (long)e * dp;
                for (int j = 0; j < dp; j++) cr[j] += x * br[j];
            }
        }
    }

    public static void AccumulateAtb(float* a, int lda, float* b, int dp, int rows, int ccount, float* c, int diag)
    {
        for (int cc = 0; cc < ccount; cc++)
        {
            float* cr = c + (long)cc * dp;
            for (int r = Math.Max(0, cc - diag); r < rows; r++)
            {
                float x = a[(long)r * lda + cc];
                float* br = b + (long)r * dp;
                for (int j = 0; j < dp; j++) cr[j] += x * br[j];
            }
        }
    }

    public static float OnlineSoftmaxRow(float* sr, int vis, ref float m, ref float l)
    {
        if (vis == 0) { new Span<float>(sr, Bc).Clear(); return 1f; }
        float mx = float.NegativeInfinity;
        for (int c = 0; c < vis; c++) mx = Math.Max(mx, sr[c]);
        float mNew = Math.Max(m, mx), sum = 0;
        for (int c = 0; c < vis; c++) { float e = MathF.Exp(sr[c] - mNew); sr[c] = e; sum += e; }
        for (int c = vis; c < Bc; c++) sr[c] = 0;
        float alpha = MathF.Exp(m - mNew);
        l = l * alpha + sum;
        m = mNew;
        return alpha;
    }

    public static void ProbAndScoreGradRow(float* pr, float* dr, int vis, float lse, float di)
    {
        for (int c = 0; c < vis; c++) { float p = MathF.Exp(pr[c] - lse); pr[c] = p; dr[c] = p * (dr[c] - di); }
        for (int c = vis; c < Bc; c++) { pr[c] = 0; dr[c] = 0; }
    }

    public static void ScaledCopy(float* src, float* dst, int n, float a)
    {
        for (int i = 0; i < n; i++) dst[i] = src[i] * a;
    }

    public static float CopyAndDot(float* g, float* o, float* dst, int n)
    {
        float sum = 0;
        for (int i = 0; i < n; i++) { dst[i] = g[i]; sum += g[i] * o[i]; }
        return sum;
    }

    public static void ScaleRow(float* x, int dp, float a)
    {
        for (int i = 0; i < dp; i++) x[i] *= a;
    }
}
