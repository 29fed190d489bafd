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
        int kBlocks = (k + cfg.KC - 1) / cfg.KC, kcMax = (k + kBlocks - 1) / kBlocks;
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

    /// <summary>C [M×n] = A·op(B) + beta·C on the calling thread, A packed by <see cref="Pack"/> under the configuration still in force.</summary>
    internal static void SgemmPacked(PackedA a, bool transB, int n, float* b, int ldb, float beta, float* c, int ldc)
    {
        if (!ReferenceEquals(a.Config, Current))
            throw new InvalidOperationException($"sgemm: A was packed for {a.Config.Name}, the configuration now is {Current?.Name ?? "scalar"}");
        if (n <= 0) return;
        BlockedBlis(a.Config, false, transB, a.M, n, a.K, 1f, null, 0, b, ldb, beta, c, ldc, null, (float*)a.Data);
    }
}
