namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Products that multiply many A's by one B (a frozen weight, as in autoregressive decoding) can pack B once: a
/// blocked product otherwise packs all of op(B) again at every call, which for a few rows of A costs more than the
/// multiplication (`perf` of gpt-b decoding one image with guidance, 2 rows: packing B 59% of the time, the kernel 16%).
/// The packed product sums every element exactly as the blocked product does (the same depth slices in the same
/// order, the same micro-kernel and store modes), so its results are bit-identical to <see cref="Sgemm"/>'s on the
/// products that take the blocked path; products that take the direct path (tiny or skinny ones) are not packed.
/// </summary>
public static unsafe partial class Gemm
{
    /// <summary>All of op(B) [k×n] packed once in the <see cref="PackedBLayout"/> of one configuration.</summary>
    internal sealed class PackedB
    {
        public required Config Config { get; init; }
        public required PackedBLayout Layout { get; init; }
        public required float[] Buffer { get; init; }
        public required int Offset { get; init; } // floats to the 64-byte-aligned start of Buffer
        public int N => Layout.N;
        public int K => Layout.K;
        public long Bytes => (long)Buffer.Length * sizeof(float);
    }

    /// <summary>
    /// Whether a product of <paramref name="m"/> rows by this op(B) shape takes the blocked path under the configuration
    /// in force (where a packed B applies and gives the same sums); false where it runs the direct path or no kernel exists.
    /// </summary>
    internal static bool PacksB(int m, int n, int k) => k > 0 && !IsDirect(Current, m, n, k);

    /// <summary>Packs all of op(B) (k×n; B is n×k when <paramref name="transB"/>) under the configuration in force.</summary>
    internal static PackedB PackAllOfB(bool transB, ReadOnlySpan<float> b, int ldb, int n, int k)
    {
        var cfg = Current ?? throw new InvalidOperationException("sgemm: no blocked configuration at this SIMD width (the direct path packs nothing)");
        Validate(false, transB, 1, n, k, k, k, b.Length, ldb, n, n);
        var layout = new PackedBLayout(k, n, cfg.NR, DepthSlice(cfg, k));
        var buffer = RentPackedB(checked((int)layout.Floats + 16));
        fixed (float* buf = buffer, pb = b)
        {
            int offset = (int)(((64 - ((nint)buf & 63)) & 63) / sizeof(float));
            float* dst = buf + offset;
            int sliceDepth = layout.SliceDepth, nRound = layout.NRound;
            nint ib = (nint)pb, id = (nint)dst;
            int slices = (k + sliceDepth - 1) / sliceDepth;
            Par.ForRange(slices, (long)sliceDepth * nRound, (s0, s1) =>
            {
                for (int s = s0; s < s1; s++)
                {
                    int pc = s * sliceDepth, kc = Math.Min(sliceDepth, k - pc);
                    GemmPacking.PackB(transB, (float*)ib, ldb, pc, 0, kc, n, cfg.NR, (float*)id + (long)pc * nRound);
                }
            });
            return new PackedB { Config = cfg, Layout = layout, Buffer = buffer, Offset = offset };
        }
    }

    /// <summary>
    /// Buffers of packed B's no longer in use, held weakly: the next scope that packs the same weights (the next batch of
    /// samples) takes them back, where fresh pinned arrays of that size (444 MB for gpt-b) would cost the kernel more time
    /// zeroing new pages than packing them (`perf`: 23% of sampling gpt-b 16 tokens at a time); a full collection frees them.
    /// </summary>
    private static readonly List<WeakReference<float[]>> s_spareB = new();

    private static float[] RentPackedB(int floats)
    {
        lock (s_spareB)
        {
            for (int i = s_spareB.Count - 1; i >= 0; i--)
            {
                if (!s_spareB[i].TryGetTarget(out var spare)) { s_spareB.RemoveAt(i); continue; }
                if (spare.Length < floats || spare.Length > floats + floats / 4) continue;
                s_spareB.RemoveAt(i);
                return spare;
            }
        }
        return GC.AllocateUninitializedArray<float>(floats, pinned: true);
    }

    /// <summary>Hands a packed B's buffer back for reuse; the packed B must not be used after this.</summary>
    internal static void ReturnPackedB(PackedB packed)
    {
        lock (s_spareB) s_spareB.Add(new WeakReference<float[]>(packed.Buffer));
    }

    /// <summary>
    /// C [m×n] = alpha·op(A)·B + beta·C (or + the row vector <paramref name="bias"/>, beta ignored), B packed by
    /// <see cref="PackAllOfB"/> under the configuration still in force. Threads split the columns in whole slivers.
    /// </summary>
    internal static void SgemmPackedB(bool transA, int m, float alpha, ReadOnlySpan<float> a, int lda, PackedB b,
        float beta, Span<float> c, int ldc, ReadOnlySpan<float> bias = default, bool parallel = true)
    {
        var cfg = b.Config;
        if (!ReferenceEquals(cfg, Current))
            throw new InvalidOperationException($"sgemm: B was packed for {cfg.Name}, the configuration now is {Current?.Name ?? "scalar"}");
        int n = b.N, k = b.K;
        Validate(transA, false, m, n, k, a.Length, lda, (long)k * n, n, c.Length, ldc);
        if (!bias.IsEmpty && bias.Length != n) throw new ArgumentException($"sgemm: bias holds {bias.Length} elements, C has {n} columns");
        if (m == 0 || n == 0) return;
        if (!PacksB(m, n, k)) throw new InvalidOperationException($"sgemm: a {m}×{n}×{k} product takes the direct path; it must not use a packed B");
        if (alpha == 0f) throw new InvalidOperationException("sgemm: alpha 0 takes the scaling path; it must not use a packed B");
        bool hasBias = !bias.IsEmpty;
        fixed (float* pa = a, pc = c, pbias = bias, buf = b.Buffer)
        {
            float* bp = buf + b.Offset;
            float* biasPtr = hasBias ? pbias : null;
            if (hasBias) beta = 0f;
            long work = (long)m * n * k;
            int nr = cfg.NR, slivers = (n + nr - 1) / nr;
            if (!parallel || work < ParallelWork || Par.Threads <= 1 || slivers < 2)
            {
                BlockedBlis(cfg, transA, false, m, n, k, alpha, pa, lda, null, 0, beta, pc, ldc, biasPtr, bPacked: bp, bRound: b.Layout.NRound);
                return;
            }
            nint ia = (nint)pa, ic = (nint)pc, ibias = (nint)biasPtr, ibp = (nint)bp;
            int bRound = b.Layout.NRound;
            Par.ForRange(slivers, work / slivers, (s0, s1) =>
            {
                int j0 = s0 * nr, j1 = Math.Min(n, s1 * nr);
                BlockedBlis(cfg, transA, false, m, j1 - j0, k, alpha, (float*)ia, lda, null, 0, beta, (float*)ic + j0, ldc,
                    ibias == 0 ? null : (float*)ibias + j0, bPacked: (float*)ibp, bRound: bRound, bCol: j0);
            });
        }
    }
}
