namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Products that share one A: alpha·op(A) is packed once (<see cref="Gemm.Pack"/>) and each product with it
/// (<see cref="Gemm.SgemmPacked"/>, one thread) skips packing A. A convolution multiplies its weights with every
/// image's im2col band: packed once per call, the weights cost nothing per band, so the bands can be small enough
/// for the im2col matrix to stay in L2.
/// </summary>
public static unsafe partial class Gemm
{
    /// <summary>alpha·op(A) [M×K] in the micro-kernel's sliver layout, for the configuration it was packed under.</summary>
    internal sealed class PackedA
    {
        public required int M, K;
        public required Config Config;
        public required float[] Buffer; // pinned: the pointer below stays valid
        public required nint Data;      // 64-byte aligned start inside Buffer
    }

    /// <summary>
    /// Packs alpha·op(A) (op(A) m×k: with transA, A is stored k×m) for <see cref="SgemmPacked"/>; null at the scalar
    /// width (no packed path: callers multiply unpacked) or when k is 0. <paramref name="buffer"/> is reused when it
    /// is large enough, else replaced (pinned, so callers keep one per thread across calls).
    /// </summary>
    internal static PackedA? Pack(bool transA, int m, int k, float alpha, float* a, int lda, ref float[]? buffer)
    {
        var cfg = Current;
        if (cfg is null || m <= 0 || k <= 0) return null;
        int mr = cfg.MR, mRound = RoundUp(m, mr);
        int kcMax = DepthSlice(cfg, k);
        if (buffer is null || buffer.Length < (long)mRound * k + 16)
            buffer = GC.AllocateUninitializedArray<float>(mRound * k + 16, pinned: true);
        var buf = buffer;
        fixed (float* p0 = buf)
        {
            float* dst = (float*)(((nint)p0 + 63) & ~(nint)63);
            // One row block per depth slice, at pc·mRound: the layout BlockedBlis reads with aPacked.
            for (int pc = 0; pc < k; pc += kcMax)
                GemmPacking.PackA(transA, a, lda, 0, pc, m, Math.Min(kcMax, k - pc), mr, alpha, dst + (long)pc * mRound);
            return new PackedA { M = m, K = k, Config = cfg, Buffer = buf, Data = (nint)dst };
        }
    }

    /// <summary>
    /// Where op(B) [k×n] goes when a caller packs it whole itself (<see cref="SgemmPacked(PackedA, int, float*, float, float*, int)"/>):
    /// depth slices of <see cref="SliceDepth"/> rows (the last may be shallower), slice s starting at float
    /// s·SliceDepth·NRound; in each slice, panels of <see cref="NR"/> columns, panel q at q·NR·kc (kc: that slice's
    /// depth); in a panel, row p's NR floats at p·NR. Columns n..NRound of the last panel are zero.
    /// A convolution writes its im2col matrix straight into this layout, so the product has no B to pack.
    /// </summary>
    internal readonly record struct PackedBLayout(int K, int N, int NR, int SliceDepth)
    {
        public int NRound => RoundUp(N, NR);
        public long Floats => (long)K * NRound;

        /// <summary>Offset of element (p, j) of op(B).</summary>
        public long Offset(int p, int j)
        {
            int s = p / SliceDepth, kc = Math.Min(SliceDepth, K - s * SliceDepth);
            return (long)s * SliceDepth * NRound + (long)(j / NR) * NR * kc + (long)(p - s * SliceDepth) * NR + j % NR;
        }
    }

    /// <summary>The layout B must have to be multiplied with <paramref name="a"/> by the packed-B product.</summary>
    internal static PackedBLayout LayoutB(PackedA a, int n) => new(a.K, n, a.Config.NR, DepthSlice(a.Config, a.K));

    /// <summary>C [M×n] = A·B + beta·C on the calling thread, A packed by <see cref="Pack"/> and B laid out as
    /// <see cref="LayoutB"/> says, under the configuration still in force.</summary>
    internal static void SgemmPacked(PackedA a, int n, float* bPacked, float beta, float* c, int ldc)
    {
        if (!ReferenceEquals(a.Config, Current))
            throw new InvalidOperationException($"sgemm: A was packed for {a.Config.Name}, the configuration now is {Current?.Name ?? "scalar"}");
        if (n <= 0) return;
        BlockedBlis(a.Config, false, false, a.M, n, a.K, 1f, null, 0, null, 0, beta, c, ldc, null, (float*)a.Data, bPacked);
    }

    /// <summary>C [M×n] = A·op(B) + beta·C on the calling thread, A packed by <see cref="Pack"/> under the configuration still in force.</summary>
    internal static void SgemmPacked(PackedA a, bool transB, int n, float* b, int ldb, float beta, float* c, int ldc)
    {
        if (!ReferenceEquals(a.Config, Current))
            throw new InvalidOperationException($"sgemm: A was packed for {a.Config.Name}, the configuration now is {Current?.Name ?? "scalar"}");
        if (n <= 0) return;
        BlockedBlis(a.Config, false, transB, a.M, n, a.K, 1f, null, 0, b, ldb, beta, c, ldc, null, (float*)a.Data);
    }
}
