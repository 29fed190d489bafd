using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Fused (flash-attention style) scaled dot-product attention on contiguous [BH, T, D] heads.
/// <para>Forward: for each (head, block of ≤ <see cref="Br"/> queries) stream over blocks of
/// <see cref="Bc"/> keys with an online softmax; only one Br×Bc block of scores exists at a time.
/// The per-row logsumexp is saved for the backward.</para>
/// <para>Backward (FlashAttention-2): Dᵢ = rowsum(dO∘O); for each key block, for each query block
/// that sees it, recompute P = exp(S − lse), then dV += Pᵀ·dO, dP = dO·Vᵀ, dS = P∘(dP − D),
/// dQ += dS·K·scale, dK += dSᵀ·Q·scale.</para>
/// <para>Causal masking is bottom-right aligned: with off = Tk − Tq, query i sees keys j ≤ off + i
/// (for Tq = Tk this is the usual lower triangle; for Tq &lt; Tk the queries are the last positions).</para>
/// Inner products run on zero-padded block copies (head dim rounded up to 16), so any D works; the
/// block matrix products are register-tiled Vector512 FMA loops with a scalar fallback.
/// </summary>
public static unsafe class AttentionKernels
{
    public const int Br = 64, Bc = 64;

    /// <summary>Tests switch this off to exercise the scalar fallback on AVX-512 machines.</summary>
    internal static bool UseVector512 { get; set; } = Vector512.IsHardwareAccelerated;

    [ThreadStatic] private static float[]? _scratch;

    private static float[] Scratch(int n)
    {
        var s = _scratch;
        if (s is null || s.Length < n) _scratch = s = new float[Math.Max(n, 1024)];
        return s;
    }

    private static int Pad16(int d) => (d + 15) & ~15;
    private static int Pad4(int n) => (n + 3) & ~3;

    /// <summary>Number of keys of a block (starting at key j0, bc keys) visible to query row i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Visible(bool causal, int off, int i, int j0, int bc)
        => causal ? Math.Clamp(off + i - j0 + 1, 0, bc) : bc;

    // ---- forward ----------------------------------------------------------------------------------

    /// <summary>o [bh, tq, d] and lse [bh, tq] from q [bh, tq, d], k and v [bh, tk, d].</summary>
    public static void Forward(float[] q, float[] k, float[] v, float[] o, float[] lse, int bh, int tq, int tk, int d, bool causal, float scale)
    {
        if (bh == 0 || tq == 0) return;
        fixed (float* pq = q, pk = k, pv = v, po = o, pl = lse)
        {
            nint Q = (nint)pq, K = (nint)pk, V = (nint)pv, O = (nint)po, L = (nint)pl;
            // One work item per head (K and V transposed once per head), or, when there are too few heads to
            // keep every core busy, per (head, query block) with each item preparing just the keys it needs.
            int nqb = (tq + Br - 1) / Br;
            int split = bh >= 2 * Par.Threads ? 1 : nqb;
            long work = 4L * tq * tk * d / split;
            Par.For(bh * split, work, item =>
            {
                int h = item / split, part = item % split;
                int qb0 = split == 1 ? 0 : part, qb1 = split == 1 ? nqb : part + 1;
                ForwardHead((float*)Q + (long)h * tq * d, (float*)K + (long)h * tk * d, (float*)V + (long)h * tk * d,
                    (float*)O + (long)h * tq * d, (float*)L + (long)h * tq, tq, tk, d, causal, scale, qb0 * Br, Math.Min(tq, qb1 * Br));
            });
        }
    }

    /// <summary>Query rows [rowStart, rowEnd) of one head (rowStart a multiple of Br).</summary>
    private static void ForwardHead(float* q, float* k, float* v, float* o, float* lse, int tq, int tk, int d, bool causal, float scale,
        int rowStart, int rowEnd)
    {
        int off = tk - tq;
        if (causal) tk = Math.Min(tk, off + rowEnd); // keys past the last row's diagonal are never needed
        int dp = Pad16(d), tkp = (tk + Bc - 1) / Bc * Bc;
        // scratch: KT [d, tkp] | Vp [tk, dp] | Qs [Br, dp] | S [Br, Bc] | Oacc [Br, dp] | m [Br] | l [Br]
        int nKT = d * tkp, nVp = tk * dp, nQs = Br * dp, nS = Br * Bc, nO = Br * dp;
        var scratch = Scratch(nKT + nVp + nQs + nS + nO + 2 * Br);
        fixed (float* sp = scratch)
        {
            float* kt = sp, vp = kt + nKT, qs = vp + nVp, s = qs + nQs, oacc = s + nS, m = oacc + nO, l = m + Br;
            Transpose(k, tk, d, tkp, kt);
            PadRows(v, tk, d, dp, vp);
            for (int i0 = rowStart; i0 < rowEnd; i0 += Br)
            {
                int br = Math.Min(Br, rowEnd - i0), brp = Pad4(br);
                new Span<float>(qs, brp * dp).Clear();
                for (int r = 0; r < br; r++) ScaledCopy(q + (long)(i0 + r) * d, qs + r * dp, d, scale);
                new Span<float>(oacc, brp * dp).Clear();
                new Span<float>(m, Br).Fill(float.NegativeInfinity);
                new Span<float>(l, Br).Clear();

                int kEnd = causal ? Math.Min(tk, off + i0 + br) : tk;
                for (int j0 = 0; j0 < kEnd; j0 += Bc)
                {
                    int bc = Math.Min(Bc, kEnd - j0);
                    int diag = causal ? off + i0 - j0 : NoDiag;
                    ScoresAbt(qs, dp, kt + j0, tkp, d, brp, s, diag);
                    for (int r = 0; r < brp; r++)
                    {
                        int vis = r < br ? Visible(causal, off, i0 + r, j0, bc) : 0;
                        bool first = float.IsNegativeInfinity(m[r]); // accumulator still zero
                        float alpha = OnlineSoftmaxRow(s + r * Bc, vis, ref m[r], ref l[r]);
                        if (alpha != 1f && !first) ScaleRow(oacc + r * dp, dp, alpha);
                    }
                    AccumulateAb(s, Bc, vp + (long)j0 * dp, dp, brp, bc, oacc, diag);
                }
                for (int r = 0; r < br; r++)
                {
                    ScaledCopy(oacc + r * dp, o + (long)(i0 + r) * d, d, 1f / l[r]);
                    lse[i0 + r] = m[r] + MathF.Log(l[r]);
                }
            }
        }
    }

    private static readonly Vector512<float> NegInf512 = Vector512.Create(float.NegativeInfinity);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Mask(int vis, int c0) => Vector512.LessThan(Vector512<int>.Indices + Vector512.Create(c0), Vector512.Create(vis)).AsSingle();

    private static float HMax(Vector512<float> v)
    {
        var a = Vector256.Max(v.GetLower(), v.GetUpper());
        var b = Vector128.Max(a.GetLower(), a.GetUpper());
        return MathF.Max(MathF.Max(b[0], b[1]), MathF.Max(b[2], b[3]));
    }

    /// <summary>
    /// One row of a score block (Bc wide, first <paramref name="vis"/> visible): folds it into the running
    /// max m and sum l, overwrites it with exp(s − m_new) (zeros where masked) and returns the factor
    /// exp(m_old − m_new) by which the row's output accumulator must be rescaled (1 when nothing is visible).
    /// </summary>
    private static float OnlineSoftmaxRow(float* sr, int vis, ref float m, ref float l)
    {
        if (vis == 0) { new Span<float>(sr, Bc).Clear(); return 1f; }
        if (UseVector512)
        {
            var k0 = Mask(vis, 0); var k1 = Mask(vis, 16); var k2 = Mask(vis, 32); var k3 = Mask(vis, 48);
            var x0 = Vector512.ConditionalSelect(k0, Vector512.Load(sr), NegInf512);
            var x1 = Vector512.ConditionalSelect(k1, Vector512.Load(sr + 16), NegInf512);
            var x2 = Vector512.ConditionalSelect(k2, Vector512.Load(sr + 32), NegInf512);
            var x3 = Vector512.ConditionalSelect(k3, Vector512.Load(sr + 48), NegInf512);
            float mx = HMax(Vector512.Max(Vector512.Max(x0, x1), Vector512.Max(x2, x3)));
            float mNew = Math.Max(m, mx);
            var mv = Vector512.Create(mNew);
            var p0 = Vector512.ConditionalSelect(k0, SimdExp.Exp(x0 - mv), Vector512<float>.Zero);
            var p1 = Vector512.ConditionalSelect(k1, SimdExp.Exp(x1 - mv), Vector512<float>.Zero);
            var p2 = Vector512.ConditionalSelect(k2, SimdExp.Exp(x2 - mv), Vector512<float>.Zero);
            var p3 = Vector512.ConditionalSelect(k3, SimdExp.Exp(x3 - mv), Vector512<float>.Zero);
            p0.Store(sr); p1.Store(sr + 16); p2.Store(sr + 32); p3.Store(sr + 48);
            float alpha = MathF.Exp(m - mNew);
            l = l * alpha + Vector512.Sum((p0 + p1) + (p2 + p3));
            m = mNew;
            return alpha;
        }
        else
        {
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
    }

    /// <summary>dst[0..n) = src[0..n)·a.</summary>
    private static void ScaledCopy(float* src, float* dst, int n, float a)
    {
        int i = 0;
        if (UseVector512)
        {
            var av = Vector512.Create(a);
            for (; i + 16 <= n; i += 16) (Vector512.Load(src + i) * av).Store(dst + i);
        }
        for (; i < n; i++) dst[i] = src[i] * a;
    }

    /// <summary>dst[0..n) = g[0..n); returns Σ g∘o.</summary>
    private static float CopyAndDot(float* g, float* o, float* dst, int n)
    {
        int i = 0;
        float sum = 0;
        if (UseVector512)
        {
            var acc = Vector512<float>.Zero;
            for (; i + 16 <= n; i += 16)
            {
                var gv = Vector512.Load(g + i);
                gv.Store(dst + i);
                acc = Vector512.FusedMultiplyAdd(gv, Vector512.Load(o + i), acc);
            }
            sum = Vector512.Sum(acc);
        }
        for (; i < n; i++) { dst[i] = g[i]; sum += g[i] * o[i]; }
        return sum;
    }

    private static void ScaleRow(float* x, int dp, float a)
    {
        if (UseVector512)
        {
            var av = Vector512.Create(a);
            for (int i = 0; i < dp; i += 16) (Vector512.Load(x + i) * av).Store(x + i);
        }
        else for (int i = 0; i < dp; i++) x[i] *= a;
    }

    /// <summary>Backward row: p = exp(s − lse) on the visible part (0 elsewhere), ds = p∘(dp − di); both in place.</summary>
    private static void ProbAndScoreGradRow(float* pr, float* dr, int vis, float lse, float di)
    {
        if (vis == 0) { new Span<float>(pr, Bc).Clear(); new Span<float>(dr, Bc).Clear(); return; }
        if (UseVector512)
        {
            var lv = Vector512.Create(lse); var dv = Vector512.Create(di);
            for (int c = 0; c < Bc; c += 16)
            {
                // masked lanes may hold stale values (the products skip what the mask hides): select, don't multiply by 0
                var k = Mask(vis, c);
                var p = Vector512.ConditionalSelect(k, SimdExp.Exp(Vector512.Load(pr + c) - lv), Vector512<float>.Zero);
                p.Store(pr + c);
                Vector512.ConditionalSelect(k, p * (Vector512.Load(dr + c) - dv), Vector512<float>.Zero).Store(dr + c);
            }
        }
        else
        {
            for (int c = 0; c < vis; c++) { float p = MathF.Exp(pr[c] - lse); pr[c] = p; dr[c] = p * (dr[c] - di); }
            for (int c = vis; c < Bc; c++) { pr[c] = 0; dr[c] = 0; }
        }
    }

    // ---- backward ---------------------------------------------------------------------------------

    /// <summary>dq, dk, dv (overwritten) from the forward's inputs, output o, saved lse and upstream dO.</summary>
    public static void Backward(float[] q, float[] k, float[] v, float[] o, float[] lse, float[] dout,
        float[] dq, float[] dk, float[] dv, int bh, int tq, int tk, int d, bool causal, float scale)
    {
        if (bh == 0) return;
        if (tq == 0) { Array.Clear(dk, 0, bh * tk * d); Array.Clear(dv, 0, bh * tk * d); return; }
        fixed (float* pq = q, pk = k, pv = v, po = o, pl = lse, pg = dout, pdq = dq, pdk = dk, pdv = dv)
        {
            nint Q = (nint)pq, K = (nint)pk, V = (nint)pv, O = (nint)po, L = (nint)pl, G = (nint)pg, DQ = (nint)pdq, DK = (nint)pdk, DV = (nint)pdv;
            long work = 10L * tq * tk * d;
            Par.For(bh, work, h =>
            {
                long qo = (long)h * tq * d, ko = (long)h * tk * d;
                BackwardHead((float*)Q + qo, (float*)K + ko, (float*)V + ko, (float*)O + qo, (float*)L + (long)h * tq, (float*)G + qo,
                    (float*)DQ + qo, (float*)DK + ko, (float*)DV + ko, tq, tk, d, causal, scale);
            });
        }
    }

    private static void BackwardHead(float* q, float* k, float* v, float* o, float* lse, float* dO,
        float* dq, float* dk, float* dv, int tq, int tk, int d, bool causal, float scale)
    {
        int dp = Pad16(d), tqp = Pad4(tq), off = tk - tq;
        // scratch: Qs [tqp, dp] | Gp [tqp, dp] | dQacc [tqp, dp] | Di [tqp] | KT [dp, Bc] | VT [dp, Bc] | Kp [Bc, dp]
        //          | dKacc [Bc, dp] | dVacc [Bc, dp] | P [Br, Bc] | dS [Br, Bc]
        int nRows = tqp * dp, nT = dp * Bc, nB = Bc * dp, nS = Br * Bc;
        var scratch = Scratch(3 * nRows + tqp + 2 * nT + 3 * nB + 2 * nS);
        fixed (float* sp = scratch)
        {
            float* qs = sp, gp = qs + nRows, dqa = gp + nRows, di = dqa + nRows, kt = di + tqp, vt = kt + nT,
                kp = vt + nT, dka = kp + nB, dva = dka + nB, p = dva + nB, ds = p + nS;
            new Span<float>(qs, 3 * nRows + tqp).Clear();
            for (int r = 0; r < tq; r++)
            {
                ScaledCopy(q + (long)r * d, qs + (long)r * dp, d, scale);
                di[r] = CopyAndDot(dO + (long)r * d, o + (long)r * d, gp + (long)r * dp, d);
            }

            for (int j0 = 0; j0 < tk; j0 += Bc)
            {
                int bc = Math.Min(Bc, tk - j0), bcp = Pad4(bc);
                Transpose(k + (long)j0 * d, bc, d, Bc, kt);
                Transpose(v + (long)j0 * d, bc, d, Bc, vt);
                PadRows(k + (long)j0 * d, bc, d, dp, kp);
                new Span<float>(dka, 2 * nB).Clear();
                // first query row that sees key j0 (rows start at a multiple of 4 so padded rows stay inside tqp)
                int iStart = causal ? Math.Max(0, j0 - off) & ~3 : 0;
                for (int i0 = iStart; i0 < tq; i0 += Br)
                {
                    int br = Math.Min(Br, tq - i0), brp = Pad4(br);
                    float* qsi = qs + (long)i0 * dp, gpi = gp + (long)i0 * dp;
                    int diag = causal ? off + i0 - j0 : NoDiag;
                    ScoresAbt(qsi, dp, kt, Bc, d, brp, p, diag);
                    ScoresAbt(gpi, dp, vt, Bc, d, brp, ds, diag); // dP
                    for (int r = 0; r < brp; r++)
                    {
                        int vis = r < br ? Visible(causal, off, i0 + r, j0, bc) : 0;
                        ProbAndScoreGradRow(p + r * Bc, ds + r * Bc, vis, r < br ? lse[i0 + r] : 0f, r < br ? di[i0 + r] : 0f);
                    }
                    AccumulateAtb(p, Bc, gpi, dp, brp, bcp, dva, diag);   // dV += Pᵀ·dO
                    AccumulateAb(ds, Bc, kp, dp, brp, bc, dqa + (long)i0 * dp, diag); // dQ += dS·K (scaled at the end)
                    AccumulateAtb(ds, Bc, qsi, dp, brp, bcp, dka, diag);  // dK += dSᵀ·(scale·Q)
                }
                for (int c = 0; c < bc; c++)
                {
                    new ReadOnlySpan<float>(dka + c * dp, d).CopyTo(new Span<float>(dk + (long)(j0 + c) * d, d));
                    new ReadOnlySpan<float>(dva + c * dp, d).CopyTo(new Span<float>(dv + (long)(j0 + c) * d, d));
                }
            }
            for (int r = 0; r < tq; r++)
                ScaledCopy(dqa + (long)r * dp, dq + (long)r * d, d, scale);
        }
    }

    // ---- block copies ---------------------------------------------------------------------------

    /// <summary>dst [d, ld] = src [n, d]ᵀ, columns n..ld zeroed.</summary>
    private static void Transpose(float* src, int n, int d, int ld, float* dst)
    {
        // sequential writes, strided reads (the source block is small and stays in L1)
        for (int e = 0; e < d; e++)
        {
            float* o = dst + (long)e * ld;
            float* s = src + e;
            int c = 0;
            for (; c + 4 <= n; c += 4)
            {
                o[c] = s[(long)c * d]; o[c + 1] = s[(long)(c + 1) * d];
                o[c + 2] = s[(long)(c + 2) * d]; o[c + 3] = s[(long)(c + 3) * d];
            }
            for (; c < n; c++) o[c] = s[(long)c * d];
            for (; c < ld; c++) o[c] = 0;
        }
    }

    /// <summary>dst [n, dp] = src [n, d] with columns d..dp zeroed.</summary>
    private static void PadRows(float* src, int n, int d, int dp, float* dst)
    {
        for (int r = 0; r < n; r++)
        {
            new ReadOnlySpan<float>(src + (long)r * d, d).CopyTo(new Span<float>(dst + r * dp, d));
            if (dp > d) new Span<float>(dst + r * dp + d, dp - d).Clear();
        }
    }

    // ---- block products -------------------------------------------------------------------------

    // The products take diag = off + i0 − j0 for a causal block (row r of the block sees its first diag + r + 1
    // keys) and NoDiag otherwise; they skip the parts of a block that the mask zeroes anyway.
    private const int NoDiag = 1 << 20;

    /// <summary>
    /// C [rows, Bc] = A [rows, lda] · BT [kdim, Bc] (row stride ldbt) over the first kdim columns of A
    /// (rows a multiple of 4). Columns a row cannot see (past diag + r) may be left unwritten.
    /// </summary>
    private static void ScoresAbt(float* a, int lda, float* bt, int ldbt, int kdim, int rows, float* c, int diag)
    {
        if (UseVector512)
        {
            for (int r0 = 0; r0 < rows; r0 += 4)
            {
                int vis = Math.Clamp(diag + r0 + 4, 0, Bc);
                if (vis == 0) continue;
                float* a0 = a + (long)r0 * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
                float* o = c + r0 * Bc;
                if (vis <= 32)
                {
                    Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
                    Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
                    for (int e = 0; e < kdim; e++)
                    {
                        float* b = bt + (long)e * ldbt;
                        var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16);
                        var x = Vector512.Create(a0[e]);
                        c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
                        x = Vector512.Create(a1[e]);
                        c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
                        x = Vector512.Create(a2[e]);
                        c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
                        x = Vector512.Create(a3[e]);
                        c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
                    }
                    c00.Store(o); c01.Store(o + 16); o += Bc;
                    c10.Store(o); c11.Store(o + 16); o += Bc;
                    c20.Store(o); c21.Store(o + 16); o += Bc;
                    c30.Store(o); c31.Store(o + 16);
                    continue;
                }
                {
                    Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
                    Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
                    Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
                    Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
                    for (int e = 0; e < kdim; e++)
                    {
                        float* b = bt + (long)e * ldbt;
                        var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16); var b2 = Vector512.Load(b + 32); var b3 = Vector512.Load(b + 48);
                        var x = Vector512.Create(a0[e]);
                        c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
                        c02 = Vector512.FusedMultiplyAdd(x, b2, c02); c03 = Vector512.FusedMultiplyAdd(x, b3, c03);
                        x = Vector512.Create(a1[e]);
                        c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
                        c12 = Vector512.FusedMultiplyAdd(x, b2, c12); c13 = Vector512.FusedMultiplyAdd(x, b3, c13);
                        x = Vector512.Create(a2[e]);
                        c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
                        c22 = Vector512.FusedMultiplyAdd(x, b2, c22); c23 = Vector512.FusedMultiplyAdd(x, b3, c23);
                        x = Vector512.Create(a3[e]);
                        c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
                        c32 = Vector512.FusedMultiplyAdd(x, b2, c32); c33 = Vector512.FusedMultiplyAdd(x, b3, c33);
                    }
                    c00.Store(o); c01.Store(o + 16); c02.Store(o + 32); c03.Store(o + 48); o += Bc;
                    c10.Store(o); c11.Store(o + 16); c12.Store(o + 32); c13.Store(o + 48); o += Bc;
                    c20.Store(o); c21.Store(o + 16); c22.Store(o + 32); c23.Store(o + 48); o += Bc;
                    c30.Store(o); c31.Store(o + 16); c32.Store(o + 32); c33.Store(o + 48);
                }
            }
            return;
        }
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

    /// <summary>
    /// C [rows, dp] += A [rows, lda] · B [kcount, dp] over the first kcount columns of A (rows a multiple of 4,
    /// dp of 16); columns of A past diag + r must be zero for the rows that have them, and are skipped.
    /// </summary>
    private static void AccumulateAb(float* a, int lda, float* b, int dp, int rows, int kcount, float* c, int diag)
    {
        if (UseVector512)
        {
            int n0 = 0;
            for (; n0 + 32 <= dp; n0 += 32)
                for (int r0 = 0; r0 < rows; r0 += 4)
                {
                    int kc = Math.Clamp(diag + r0 + 4, 0, kcount);
                    if (kc == 0) continue;
                    float* a0 = a + (long)r0 * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
                    float* o = c + (long)r0 * dp + n0;
                    var c00 = Vector512.Load(o); var c01 = Vector512.Load(o + 16);
                    var c10 = Vector512.Load(o + dp); var c11 = Vector512.Load(o + dp + 16);
                    var c20 = Vector512.Load(o + 2 * dp); var c21 = Vector512.Load(o + 2 * dp + 16);
                    var c30 = Vector512.Load(o + 3 * dp); var c31 = Vector512.Load(o + 3 * dp + 16);
                    float* bb = b + n0;
                    for (int e = 0; e < kc; e++, bb += dp)
                    {
                        var b0 = Vector512.Load(bb); var b1 = Vector512.Load(bb + 16);
                        var x = Vector512.Create(a0[e]);
                        c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
                        x = Vector512.Create(a1[e]);
                        c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
                        x = Vector512.Create(a2[e]);
                        c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
                        x = Vector512.Create(a3[e]);
                        c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
                    }
                    c00.Store(o); c01.Store(o + 16);
                    c10.Store(o + dp); c11.Store(o + dp + 16);
                    c20.Store(o + 2 * dp); c21.Store(o + 2 * dp + 16);
                    c30.Store(o + 3 * dp); c31.Store(o + 3 * dp + 16);
                }
            if (n0 < dp) // one 16-wide column strip left
                for (int r0 = 0; r0 < rows; r0 += 4)
                {
                    int kc = Math.Clamp(diag + r0 + 4, 0, kcount);
                    if (kc == 0) continue;
                    float* a0 = a + (long)r0 * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
                    float* o = c + (long)r0 * dp + n0;
                    var c0 = Vector512.Load(o); var c1 = Vector512.Load(o + dp); var c2 = Vector512.Load(o + 2 * dp); var c3 = Vector512.Load(o + 3 * dp);
                    float* bb = b + n0;
                    for (int e = 0; e < kc; e++, bb += dp)
                    {
                        var b0 = Vector512.Load(bb);
                        c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[e]), b0, c0);
                        c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a1[e]), b0, c1);
                        c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a2[e]), b0, c2);
                        c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a3[e]), b0, c3);
                    }
                    c0.Store(o); c1.Store(o + dp); c2.Store(o + 2 * dp); c3.Store(o + 3 * dp);
                }
            return;
        }
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

    /// <summary>
    /// C [ccount, dp] += Aᵀ · B with A [rows, lda] (its first ccount columns) and B [rows, dp] (ccount a multiple
    /// of 4); rows of A before the first row that sees a column (r &lt; col − diag) must be zero there, and are skipped.
    /// </summary>
    private static void AccumulateAtb(float* a, int lda, float* b, int dp, int rows, int ccount, float* c, int diag)
    {
        if (UseVector512)
        {
            int n0 = 0;
            for (; n0 + 32 <= dp; n0 += 32)
                for (int c0i = 0; c0i < ccount; c0i += 4)
                {
                    int r0 = Math.Max(0, c0i - diag);
                    if (r0 >= rows) continue;
                    float* o = c + (long)c0i * dp + n0;
                    var c00 = Vector512.Load(o); var c01 = Vector512.Load(o + 16);
                    var c10 = Vector512.Load(o + dp); var c11 = Vector512.Load(o + dp + 16);
                    var c20 = Vector512.Load(o + 2 * dp); var c21 = Vector512.Load(o + 2 * dp + 16);
                    var c30 = Vector512.Load(o + 3 * dp); var c31 = Vector512.Load(o + 3 * dp + 16);
                    float* ar = a + (long)r0 * lda + c0i;
                    float* bb = b + (long)r0 * dp + n0;
                    for (int r = r0; r < rows; r++, ar += lda, bb += dp)
                    {
                        var b0 = Vector512.Load(bb); var b1 = Vector512.Load(bb + 16);
                        var x = Vector512.Create(ar[0]);
                        c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
                        x = Vector512.Create(ar[1]);
                        c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
                        x = Vector512.Create(ar[2]);
                        c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
                        x = Vector512.Create(ar[3]);
                        c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
                    }
                    c00.Store(o); c01.Store(o + 16);
                    c10.Store(o + dp); c11.Store(o + dp + 16);
                    c20.Store(o + 2 * dp); c21.Store(o + 2 * dp + 16);
                    c30.Store(o + 3 * dp); c31.Store(o + 3 * dp + 16);
                }
            if (n0 < dp)
                for (int c0i = 0; c0i < ccount; c0i += 4)
                {
                    int r0 = Math.Max(0, c0i - diag);
                    if (r0 >= rows) continue;
                    float* o = c + (long)c0i * dp + n0;
                    var c0 = Vector512.Load(o); var c1 = Vector512.Load(o + dp); var c2 = Vector512.Load(o + 2 * dp); var c3 = Vector512.Load(o + 3 * dp);
                    float* ar = a + (long)r0 * lda + c0i;
                    float* bb = b + (long)r0 * dp + n0;
                    for (int r = r0; r < rows; r++, ar += lda, bb += dp)
                    {
                        var b0 = Vector512.Load(bb);
                        c0 = Vector512.FusedMultiplyAdd(Vector512.Create(ar[0]), b0, c0);
                        c1 = Vector512.FusedMultiplyAdd(Vector512.Create(ar[1]), b0, c1);
                        c2 = Vector512.FusedMultiplyAdd(Vector512.Create(ar[2]), b0, c2);
                        c3 = Vector512.FusedMultiplyAdd(Vector512.Create(ar[3]), b0, c3);
                    }
                    c0.Store(o); c1.Store(o + dp); c2.Store(o + 2 * dp); c3.Store(o + 3 * dp);
                }
            return;
        }
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

    // ---- rotary embedding -------------------------------------------------------------------------

    /// <summary>
    /// LlamaGen's apply_rotary_emb on x [b, t, h, d] with table [t, d/2, 2]: (x₂ᵢ, x₂ᵢ₊₁) rotates by (cos, sin).
    /// With <paramref name="inverse"/> the rotation is by the negative angle (the backward).
    /// </summary>
    public static void Rotary(float[] x, float[] table, float[] y, int b, int t, int h, int d, bool inverse)
    {
        int half = d / 2;
        fixed (float* px = x, pt = table, py = y)
        {
            nint X = (nint)px, TB = (nint)pt, Y = (nint)py;
            Par.ForRange(b * t, 4L * h * d, (s, e) =>
            {
                // per position: cos and ±sin expanded to the interleaved layout, so a pair rotates as
                // y = x∘[c, c] + swap(x)∘[−s, s]
                var cs = new float[2 * d];
                fixed (float* cexp = cs)
                {
                    float* sexp = cexp + d;
                    for (int bt = s; bt < e; bt++)
                    {
                        float* f = (float*)TB + (long)(bt % t) * half * 2;
                        for (int i = 0; i < half; i++)
                        {
                            float c = f[2 * i], sn = inverse ? -f[2 * i + 1] : f[2 * i + 1];
                            cexp[2 * i] = c; cexp[2 * i + 1] = c;
                            sexp[2 * i] = -sn; sexp[2 * i + 1] = sn;
                        }
                        for (int hh = 0; hh < h; hh++)
                        {
                            long baseIdx = ((long)bt * h + hh) * d;
                            RotateRow((float*)X + baseIdx, (float*)Y + baseIdx, cexp, sexp, d);
                        }
                    }
                }
            });
        }
    }

    private static readonly Vector512<int> PairSwap = Vector512.Create(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);

    private static void RotateRow(float* x, float* y, float* c, float* sgn, int d)
    {
        int i = 0;
        if (UseVector512)
            for (; i + 16 <= d; i += 16)
            {
                var xv = Vector512.Load(x + i);
                var sw = Vector512.Shuffle(xv, PairSwap);
                Vector512.FusedMultiplyAdd(sw, Vector512.Load(sgn + i), xv * Vector512.Load(c + i)).Store(y + i);
            }
        for (; i < d; i += 2)
        {
            float x0 = x[i], x1 = x[i + 1];
            y[i] = x0 * c[i] + x1 * sgn[i];
            y[i + 1] = x1 * c[i + 1] + x0 * sgn[i + 1];
        }
    }
}
