using ILGPU;
using ILGPU.Runtime;

namespace Crt.Tensors.Backends.Ilgpu;

/// <summary>The ILGPU device's matrix products, softmax, losses, row norms and attention.</summary>
internal sealed partial class IlgpuKernelTable
{
    private static IntPtr Address(Tensor t, long offset) => ((IlgpuMemory)t.Memory).Buffer.NativePtr + (nint)(offset * sizeof(float));

    private static IntPtr Address16(Tensor t, long offset) => ((IlgpuMemory)t.Memory).Buffer.NativePtr + (nint)(offset * sizeof(ushort));

    /// <summary>x's elements as bfloat16 in a pooled device tensor (two per float slot).</summary>
    internal Tensor Bf16Copy(Tensor x)
    {
        var y = Tensor.Empty(Dev, (x.Size + 1) / 2);
        var l = L(x.Size);
        Launcher(GpuModelKernels.ToBf16)(l.Threads, V(x), V(y).Cast<ushort>(), l);
        return y;
    }

    /// <summary>cuBLAS where the device has it (a CUDA GPU), else the ILGPU kernel (the CPU accelerator, or cuBLAS missing).</summary>
    private void LaunchGemm(Tensor a, Tensor b, Tensor c, GemmShape s)
    {
        long n = (long)s.Batch * s.M * s.N;
        if (n == 0) return;
        var precision = backend.Precision;
        if (backend.Blas is { } blas && s.K > 0)
        {
            if (precision == MatmulPrecision.Bf16)
            {
                // bfloat16 copies of the whole operands (same layout, so offsets and strides carry over at 2 bytes each)
                using var scope = TensorScope.Begin();
                var (a16, b16) = (Bf16Copy(a), Bf16Copy(b));
                blas.Gemm(precision, s.TransA != 0, s.TransB != 0, s.M, s.N, s.K, s.Alpha, Address16(a16, s.OffA), s.Lda, s.StrideA,
                    Address16(b16, s.OffB), s.Ldb, s.StrideB, s.Beta, Address(c, s.OffC), s.Ldc, s.StrideC, s.Batch);
                return;
            }
            blas.Gemm(precision, s.TransA != 0, s.TransB != 0, s.M, s.N, s.K, s.Alpha, Address(a, s.OffA), s.Lda, s.StrideA, Address(b, s.OffB), s.Ldb,
                s.StrideB, s.Beta, Address(c, s.OffC), s.Ldc, s.StrideC, s.Batch);
            return;
        }
        s.DropBits = precision switch { MatmulPrecision.Tf32 => 13, MatmulPrecision.Bf16 => 16, _ => 0 };
        var l = L(n);
        Launcher(GpuModelKernels.Gemm)(l.Threads, a.Size == 0 ? V(Dummy) : V(a), b.Size == 0 ? V(Dummy) : V(b), V(c), s, l);
    }

    public override void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Tensor a, int aOffset, int lda,
        Tensor b, int bOffset, int ldb, float beta, Tensor c, int cOffset, int ldc) =>
        LaunchGemm(a, b, c, new GemmShape
        {
            M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc, TransA = transA ? 1 : 0, TransB = transB ? 1 : 0, Batch = 1,
            OffA = aOffset, OffB = bOffset, OffC = cOffset, Alpha = alpha, Beta = beta,
        });

    public override void GemmBatched(bool transA, bool transB, int batch, int m, int n, int k, float alpha, Tensor a, int lda, long strideA,
        Tensor b, int ldb, long strideB, float beta, Tensor c, int ldc, long strideC) =>
        LaunchGemm(a, b, c, new GemmShape
        {
            M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc, TransA = transA ? 1 : 0, TransB = transB ? 1 : 0, Batch = batch,
            StrideA = strideA, StrideB = strideB, StrideC = strideC, Alpha = alpha, Beta = beta,
        });

    /// <summary>The product, then the bias added to each row (one more pass over C; cuBLAS has no bias epilogue).</summary>
    public override void GemmBias(bool transA, bool transB, int m, int n, int k, Tensor a, int lda, Tensor b, int ldb, Tensor bias, Tensor c, int ldc)
    {
        Gemm(transA, transB, m, n, k, 1f, a, 0, lda, b, 0, ldb, 0f, c, 0, ldc);
        var l = L((long)m * n, i0: n, i1: ldc);
        if (l.N == 0) return;
        Launcher(GpuModelKernels.AddBiasRows)(l.Threads, V(c), V(bias), l);
    }

    public override void ColumnSums(Tensor src, int rows, int cols, Tensor dst)
    {
        if (cols == 0) return;
        var l = L(cols, i0: rows);
        Launcher(GpuModelKernels.ColumnSums)(l.Threads, src.Size == 0 ? V(Dummy) : V(src), V(dst), l);
    }

    // ---- softmax and losses -----------------------------------------------------------------------------
    public override void Softmax(Tensor x, Tensor y, int outer, int n, int inner, bool log)
    {
        var l = L((long)outer * inner, log ? 1 : 0, i0: n, i1: inner);
        if (l.N == 0 || n == 0) return;
        Launcher(GpuModelKernels.Softmax)(l.Threads, V(x), V(y), l);
    }

    public override void SoftmaxBackward(Tensor y, Tensor g, Tensor dx, int outer, int n, int inner, bool log)
    {
        var l = L((long)outer * inner, log ? 1 : 0, i0: n, i1: inner);
        if (l.N == 0 || n == 0) return;
        Launcher(GpuModelKernels.SoftmaxBackward)(l.Threads, V(y), V(g), V(dx), l);
    }

    private sealed record CrossEntropySaved(Tensor Targets, int IgnoreIndex, Tensor Lse, int Count);

    public override object CrossEntropy(Tensor logits, int[] targets, int ignoreIndex, bool mean, Tensor y)
    {
        int n = logits.Shape[0], c = logits.Shape[1];
        int count = targets.Count(t => t != ignoreIndex); // host data: the targets were given on the host
        var tDev = Ints(targets);
        var lse = Tensor.Empty(Dev, Math.Max(n, 1));
        var loss = mean ? Tensor.Empty(Dev, Math.Max(n, 1)) : y;
        if (n > 0)
        {
            var l = L(n, i0: c, i1: ignoreIndex);
            Launcher(GpuModelKernels.CrossEntropy)(l.Threads, V(logits), IntView(tDev), V(lse), V(loss), l);
        }
        if (mean)
        {
            var l = new Launch { N = n, Threads = 1, I0 = count, I1 = ignoreIndex };
            Launcher(GpuModelKernels.MeanOverTargets)(1, V(loss), IntView(tDev), V(y), l);
        }
        return new CrossEntropySaved(tDev, ignoreIndex, lse, count);
    }

    public override void CrossEntropyBackward(object saved, Tensor logits, Tensor g, bool mean, Tensor dl)
    {
        var s = (CrossEntropySaved)saved;
        var l = L(logits.Size, mean ? 1 : 0, i0: logits.Shape[1], i1: s.IgnoreIndex, i2: s.Count);
        if (l.N == 0) return;
        Launcher(GpuModelKernels.CrossEntropyBackward)(l.Threads, V(logits), IntView(s.Targets), V(s.Lse), V(g), V(dl), l);
    }

    public override void PairLoss(Tensor p, Tensor t, bool squared, Tensor diff, Tensor y)
    {
        Binary(Kernels.Cpu.BinaryOp.Sub, p, t, diff);
        FullSum(diff, squared ? 1 : 2, 1f / p.Size, y);
    }

    public override void PairLossBackward(Tensor diff, Tensor g, bool squared, Tensor dp)
    {
        var l = L(diff.Size, squared ? 1 : 0, i0: diff.Size);
        Launcher(GpuModelKernels.PairLossBackward)(l.Threads, V(diff), V(g), V(dp), l);
    }

    // ---- row norms ------------------------------------------------------------------------------------
    private sealed record RowStats(Tensor Mean, Tensor Rstd);

    public override object RowNorm(Tensor x, int rows, int d, Tensor? weight, Tensor? bias, float eps, bool rms, Tensor y)
    {
        var stats = new RowStats(Tensor.Empty(Dev, Math.Max(rows, 1)), Tensor.Empty(Dev, Math.Max(rows, 1)));
        if (x.Size == 0) return stats;
        var l = L(rows, rms ? 1 : 0, eps, i0: d, i1: weight is null ? 0 : 1, i2: bias is null ? 0 : 1);
        Launcher(GpuModelKernels.RowNorm)(l.Threads, V(x), VOrDummy(weight), VOrDummy(bias), V(y), V(stats.Mean), V(stats.Rstd), l);
        return stats;
    }

    public override void RowNormBackward(object saved, Tensor x, Tensor g, int rows, int d, Tensor? weight, bool rms,
        Tensor? dx, Tensor? dw, Tensor? db, bool accumulate)
    {
        var stats = (RowStats)saved;
        if (x.Size == 0)
        {
            if (dw is not null) Fill(dw, 0f);
            if (db is not null) Fill(db, 0f);
            return;
        }
        if (dx is not null)
        {
            var l = L(rows, rms ? 1 : 0, i0: d, i1: weight is null ? 0 : 1, i3: accumulate ? 1 : 0);
            Launcher(GpuModelKernels.RowNormBackwardInput)(l.Threads, V(x), V(g), VOrDummy(weight), V(stats.Mean), V(stats.Rstd), V(dx), l);
        }
        if (dw is not null || db is not null)
        {
            var l = L(d, i1: rows, i2: dw is null ? 0 : 1, i3: db is null ? 0 : 1);
            Launcher(GpuModelKernels.RowNormBackwardParams)(l.Threads, V(x), V(g), V(stats.Mean), V(stats.Rstd), VOrDummy(dw), VOrDummy(db), l);
        }
    }

    // ---- attention: scores → masked softmax → weighted sum (materialised; a fused kernel is the CUDA work to come) -----
    private void AttentionProbabilities(Tensor q, Tensor k, Tensor probs, Tensor lse, int bh, int tq, int tk, int d, bool causal, float scale, long kvStride)
    {
        long kv = kvStride == 0 ? (long)tk * d : kvStride;
        GemmBatched(false, true, bh, tq, tk, d, 1f, q, d, (long)tq * d, k, d, kv, 0f, probs, tk, (long)tq * tk);
        var l = L((long)bh * tq, p: scale, i0: tq, i1: tk, i2: causal ? 1 : 0);
        Launcher(GpuModelKernels.AttentionSoftmax)(l.Threads, V(probs), V(lse), l);
    }

    public override void Attention(Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, int bh, int tq, int tk, int d, bool causal, float scale,
        long kvStride = 0)
    {
        using var scope = TensorScope.Begin();
        var probs = Tensor.Empty(Dev, bh, tq, tk);
        AttentionProbabilities(q, k, probs, lse, bh, tq, tk, d, causal, scale, kvStride);
        long kv = kvStride == 0 ? (long)tk * d : kvStride;
        GemmBatched(false, false, bh, tq, d, tk, 1f, probs, tk, (long)tq * tk, v, d, kv, 0f, o, d, (long)tq * d);
    }

    public override void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, Tensor g, Tensor dq, Tensor dk, Tensor dv,
        int bh, int tq, int tk, int d, bool causal, float scale)
    {
        using var scope = TensorScope.Begin();
        var probs = Tensor.Empty(Dev, bh, tq, tk);
        var lseAgain = Tensor.Empty(Dev, bh, tq);
        AttentionProbabilities(q, k, probs, lseAgain, bh, tq, tk, d, causal, scale, 0);
        // dV = Pᵀ·dO;  dP = dO·Vᵀ;  dS = P∘(dP − rowsum(dP∘P))·scale;  dQ = dS·K;  dK = dSᵀ·Q
        GemmBatched(true, false, bh, tk, d, tq, 1f, probs, tk, (long)tq * tk, g, d, (long)tq * d, 0f, dv, d, (long)tk * d);
        var dp = Tensor.Empty(Dev, bh, tq, tk);
        GemmBatched(false, true, bh, tq, tk, d, 1f, g, d, (long)tq * d, v, d, (long)tk * d, 0f, dp, tk, (long)tq * tk);
        var l = L((long)bh * tq, p: scale, i1: tk);
        Launcher(GpuModelKernels.AttentionSoftmaxBackward)(l.Threads, V(probs), V(dp), l);
        GemmBatched(false, false, bh, tq, d, tk, 1f, dp, tk, (long)tq * tk, k, d, (long)tk * d, 0f, dq, d, (long)tq * d);
        GemmBatched(true, false, bh, tk, d, tq, 1f, dp, tk, (long)tq * tk, q, d, (long)tq * d, 0f, dk, d, (long)tk * d);
    }

    public override void AttentionPrefix(Tensor q, Tensor kStore, Tensor vStore, Tensor o, int bh, int tq, int length, int d, int capacity,
        bool causal, float scale)
    {
        using var scope = TensorScope.Begin();
        var lse = Tensor.Empty(Dev, bh, tq);
        Attention(q, kStore, vStore, o, lse, bh, tq, length, d, causal, scale, (long)capacity * d);
    }
}
