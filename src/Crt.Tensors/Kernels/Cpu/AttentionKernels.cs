using System.Runtime.CompilerServices;

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
/// (for Tq = Tk this is the usual lower triangle; for Tq &lt; Tk the queries are the last positions, as in
/// KV-cache decoding).</para>
/// <para>Inner products run on zero-padded block copies (head dim rounded up to 16, a whole number of vectors
/// at every width), so any D works. The loops here are written once over <see cref="IAttentionBlocks"/>; the
/// block steps (register-tiled products, online-softmax rows) come in one source generic over the vector width
/// (<see cref="SimdBlocks{V}"/>, picked by <see cref="SimdPath.Bits"/>) and a scalar reference
/// (<see cref="ScalarBlocks"/>, width 0).</para>
/// </summary>
public static unsafe class AttentionKernels
{
    public const int Br = 64, Bc = 64;

    /// <summary>The diag argument of a block product for a block without a causal mask.</summary>
    internal const int NoDiag = 1 << 20;

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

    /// <summary>
    /// o [bh, tq, d] and lse [bh, tq] from q [bh, tq, d] and the first tk rows of each head's keys and values, head h
    /// starting at h·kvHeadStride in k and v (tk·d for contiguous [bh, tk, d]; a KV cache's capacity·d).
    /// </summary>
    public static void Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> o, Span<float> lse, int bh, int tq, int tk, int d, bool causal, float scale,
        long kvHeadStride = -1)
    {
        if (bh == 0 || tq == 0) return;
        if (kvHeadStride < 0) kvHeadStride = (long)tk * d;
        switch (SimdPath.Bits)
        {
            case 512: Forward<SimdBlocks<V512>>(q, k, v, o, lse, bh, tq, tk, d, causal, scale, kvHeadStride); break;
            case 256: Forward<SimdBlocks<V256>>(q, k, v, o, lse, bh, tq, tk, d, causal, scale, kvHeadStride); break;
            case 128: Forward<SimdBlocks<V128>>(q, k, v, o, lse, bh, tq, tk, d, causal, scale, kvHeadStride); break;
            default: Forward<ScalarBlocks>(q, k, v, o, lse, bh, tq, tk, d, causal, scale, kvHeadStride); break;
        }
    }

    private static void Forward<TBlocks>(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> o, Span<float> lse, int bh, int tq, int tk, int d, bool causal, float scale,
        long kvHeadStride) where TBlocks : IAttentionBlocks
    {
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
                ForwardHead<TBlocks>((float*)Q + (long)h * tq * d, (float*)K + h * kvHeadStride, (float*)V + h * kvHeadStride,
                    (float*)O + (long)h * tq * d, (float*)L + (long)h * tq, tq, tk, d, causal, scale, qb0 * Br, Math.Min(tq, qb1 * Br));
            });
        }
    }

    /// <summary>Query rows [rowStart, rowEnd) of one head (rowStart a multiple of Br).</summary>
    private static void ForwardHead<TBlocks>(float* q, float* k, float* v, float* o, float* lse, int tq, int tk, int d, bool causal, float scale,
        int rowStart, int rowEnd) where TBlocks : IAttentionBlocks
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
                for (int r = 0; r < br; r++) TBlocks.ScaledCopy(q + (long)(i0 + r) * d, qs + r * dp, d, scale);
                new Span<float>(oacc, brp * dp).Clear();
                new Span<float>(m, Br).Fill(float.NegativeInfinity);
                new Span<float>(l, Br).Clear();

                int kEnd = causal ? Math.Min(tk, off + i0 + br) : tk;
                for (int j0 = 0; j0 < kEnd; j0 += Bc)
                {
                    int bc = Math.Min(Bc, kEnd - j0);
                    int diag = causal ? off + i0 - j0 : NoDiag;
                    TBlocks.ScoresAbt(qs, dp, kt + j0, tkp, d, brp, s, diag);
                    for (int r = 0; r < brp; r++)
                    {
                        int vis = r < br ? Visible(causal, off, i0 + r, j0, bc) : 0;
                        bool first = float.IsNegativeInfinity(m[r]); // accumulator still zero
                        float alpha = TBlocks.OnlineSoftmaxRow(s + r * Bc, vis, ref m[r], ref l[r]);
                        if (alpha != 1f && !first) TBlocks.ScaleRow(oacc + r * dp, dp, alpha);
                    }
                    TBlocks.AccumulateAb(s, Bc, vp + (long)j0 * dp, dp, brp, bc, oacc, diag);
                }
                for (int r = 0; r < br; r++)
                {
                    TBlocks.ScaledCopy(oacc + r * dp, o + (long)(i0 + r) * d, d, 1f / l[r]);
                    lse[i0 + r] = m[r] + MathF.Log(l[r]);
                }
            }
        }
    }

    // ---- backward ---------------------------------------------------------------------------------

    /// <summary>dq, dk, dv (overwritten) from the forward's inputs, output o, saved lse and upstream dO.</summary>
    public static void Backward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> o, ReadOnlySpan<float> lse,
        ReadOnlySpan<float> dout, Span<float> dq, Span<float> dk, Span<float> dv, int bh, int tq, int tk, int d, bool causal, float scale)
    {
        if (bh == 0) return;
        if (tq == 0) { dk[..(bh * tk * d)].Clear(); dv[..(bh * tk * d)].Clear(); return; }
        switch (SimdPath.Bits)
        {
            case 512: Backward<SimdBlocks<V512>>(q, k, v, o, lse, dout, dq, dk, dv, bh, tq, tk, d, causal, scale); break;
            case 256: Backward<SimdBlocks<V256>>(q, k, v, o, lse, dout, dq, dk, dv, bh, tq, tk, d, causal, scale); break;
            case 128: Backward<SimdBlocks<V128>>(q, k, v, o, lse, dout, dq, dk, dv, bh, tq, tk, d, causal, scale); break;
            default: Backward<ScalarBlocks>(q, k, v, o, lse, dout, dq, dk, dv, bh, tq, tk, d, causal, scale); break;
        }
    }

    private static void Backward<TBlocks>(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> o, ReadOnlySpan<float> lse,
        ReadOnlySpan<float> dout, Span<float> dq, Span<float> dk, Span<float> dv, int bh, int tq, int tk, int d, bool causal, float scale) where TBlocks : IAttentionBlocks
    {
        fixed (float* pq = q, pk = k, pv = v, po = o, pl = lse, pg = dout, pdq = dq, pdk = dk, pdv = dv)
        {
            nint Q = (nint)pq, K = (nint)pk, V = (nint)pv, O = (nint)po, L = (nint)pl, G = (nint)pg, DQ = (nint)pdq, DK = (nint)pdk, DV = (nint)pdv;
            long work = 10L * tq * tk * d;
            Par.For(bh, work, h =>
            {
                long qo = (long)h * tq * d, ko = (long)h * tk * d;
                BackwardHead<TBlocks>((float*)Q + qo, (float*)K + ko, (float*)V + ko, (float*)O + qo, (float*)L + (long)h * tq, (float*)G + qo,
                    (float*)DQ + qo, (float*)DK + ko, (float*)DV + ko, tq, tk, d, causal, scale);
            });
        }
    }

    private static void BackwardHead<TBlocks>(float* q, float* k, float* v, float* o, float* lse, float* dO,
        float* dq, float* dk, float* dv, int tq, int tk, int d, bool causal, float scale) where TBlocks : IAttentionBlocks
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
                TBlocks.ScaledCopy(q + (long)r * d, qs + (long)r * dp, d, scale);
                di[r] = TBlocks.CopyAndDot(dO + (long)r * d, o + (long)r * d, gp + (long)r * dp, d);
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
                    TBlocks.ScoresAbt(qsi, dp, kt, Bc, d, brp, p, diag);
                    TBlocks.ScoresAbt(gpi, dp, vt, Bc, d, brp, ds, diag); // dP
                    for (int r = 0; r < brp; r++)
                    {
                        int vis = r < br ? Visible(causal, off, i0 + r, j0, bc) : 0;
                        TBlocks.ProbAndScoreGradRow(p + r * Bc, ds + r * Bc, vis, r < br ? lse[i0 + r] : 0f, r < br ? di[i0 + r] : 0f);
                    }
                    TBlocks.AccumulateAtb(p, Bc, gpi, dp, brp, bcp, dva, diag);   // dV += Pᵀ·dO
                    TBlocks.AccumulateAb(ds, Bc, kp, dp, brp, bc, dqa + (long)i0 * dp, diag); // dQ += dS·K (scaled at the end)
                    TBlocks.AccumulateAtb(ds, Bc, qsi, dp, brp, bcp, dka, diag);  // dK += dSᵀ·(scale·Q)
                }
                for (int c = 0; c < bc; c++)
                {
                    new ReadOnlySpan<float>(dka + c * dp, d).CopyTo(new Span<float>(dk + (long)(j0 + c) * d, d));
                    new ReadOnlySpan<float>(dva + c * dp, d).CopyTo(new Span<float>(dv + (long)(j0 + c) * d, d));
                }
            }
            for (int r = 0; r < tq; r++)
                TBlocks.ScaledCopy(dqa + (long)r * dp, dq + (long)r * d, d, scale);
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
}
