using System.Numerics.Tensors;
using Crt.Tensors.Kernels.Cpu;

namespace Crt.Tensors.Backends.Cpu;

/// <summary>The CPU's matrix products, softmax and losses, norms and attention.</summary>
public sealed partial class CpuKernelTable
{
    // ---- matrix products --------------------------------------------------------------------------
    public override void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Tensor a, int aOffset, int lda,
        Tensor b, int bOffset, int ldb, float beta, Tensor c, int cOffset, int ldc)
    {
        if (FrozenWeights.Find(b, bOffset, transB, ldb, m, n, k, alpha) is { } packed)
            Kernels.Cpu.Gemm.SgemmPackedB(transA, m, alpha, a.ReadOnlySpan[aOffset..], lda, packed, beta, c.Span[cOffset..], ldc);
        else
            Kernels.Cpu.Gemm.Sgemm(transA, transB, m, n, k, alpha, a.ReadOnlySpan[aOffset..], lda, b.ReadOnlySpan[bOffset..], ldb, beta, c.Span[cOffset..], ldc);
    }

    public override void GemmBatched(bool transA, bool transB, int batch, int m, int n, int k, float alpha, Tensor a, int lda, long strideA,
        Tensor b, int ldb, long strideB, float beta, Tensor c, int ldc, long strideC) =>
        Kernels.Cpu.Gemm.SgemmBatched(transA, transB, batch, m, n, k, alpha, a.ReadOnlySpan, lda, (int)strideA, b.ReadOnlySpan, ldb, (int)strideB,
            beta, c.Span, ldc, (int)strideC);

    public override void GemmBias(bool transA, bool transB, int m, int n, int k, Tensor a, int lda, Tensor b, int ldb, Tensor bias, Tensor c, int ldc)
    {
        if (FrozenWeights.Find(b, 0, transB, ldb, m, n, k, 1f) is { } packed)
            Kernels.Cpu.Gemm.SgemmPackedB(transA, m, 1f, a.ReadOnlySpan, lda, packed, 0f, c.Span, ldc, bias.ReadOnlySpan);
        else
            Kernels.Cpu.Gemm.SgemmBias(transA, transB, m, n, k, 1f, a.ReadOnlySpan, lda, b.ReadOnlySpan, ldb, bias.ReadOnlySpan, c.Span, ldc);
    }

    public override void ColumnSums(Tensor src, int rows, int cols, Tensor dst)
    {
        var s = src.ReadOnlySpan; var d = dst.Span;
        d.Clear();
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(d, s.Slice(r * cols, cols), d);
    }

    // ---- softmax and losses -----------------------------------------------------------------------
    public override void Softmax(Tensor x, Tensor y, int outer, int n, int inner, bool log) =>
        SoftmaxKernels.Forward(x.ReadOnlySpan, y.Span, outer, n, inner, log);

    public override void SoftmaxBackward(Tensor y, Tensor g, Tensor dx, int outer, int n, int inner, bool log) =>
        SoftmaxKernels.Backward(y.ReadOnlySpan, g.ReadOnlySpan, dx.Span, outer, n, inner, log);

    private sealed record CrossEntropySaved(int[] Targets, int IgnoreIndex, float[] Lse, int Count);

    public override object CrossEntropy(Tensor logits, int[] targets, int ignoreIndex, bool mean, Tensor y)
    {
        int n = logits.Shape[0], c = logits.Shape[1];
        var lse = new float[n];
        if (!mean)
        {
            SoftmaxKernels.CrossEntropyForward(logits.ReadOnlySpan, targets, ignoreIndex, n, c, lse, y.Span);
            return new CrossEntropySaved(targets, ignoreIndex, lse, n);
        }
        var rowLoss = new float[n];
        SoftmaxKernels.CrossEntropyForward(logits.ReadOnlySpan, targets, ignoreIndex, n, c, lse, rowLoss);
        int count = 0;
        double sum = 0;
        for (int i = 0; i < n; i++)
            if (targets[i] != ignoreIndex) { count++; sum += rowLoss[i]; }
        y.Span[0] = count == 0 ? float.NaN : (float)(sum / count);
        return new CrossEntropySaved(targets, ignoreIndex, lse, count);
    }

    public override void CrossEntropyBackward(object saved, Tensor logits, Tensor g, bool mean, Tensor dl)
    {
        var s = (CrossEntropySaved)saved;
        int n = logits.Shape[0], c = logits.Shape[1];
        if (mean)
        {
            var k = new[] { s.Count == 0 ? 0f : g.ReadOnlySpan[0] / s.Count };
            SoftmaxKernels.CrossEntropyBackward(logits.ReadOnlySpan, s.Targets, s.IgnoreIndex, s.Lse, k, scalarScale: true, n, c, dl.Span);
        }
        else SoftmaxKernels.CrossEntropyBackward(logits.ReadOnlySpan, s.Targets, s.IgnoreIndex, s.Lse, g.ReadOnlySpan, scalarScale: false, n, c, dl.Span);
    }

    public override void PairLoss(Tensor p, Tensor t, bool squared, Tensor diff, Tensor y)
    {
        TensorPrimitives.Subtract(p.ReadOnlySpan, t.ReadOnlySpan, diff.Span);
        var ds = diff.ReadOnlySpan;
        double acc = 0;
        if (squared) for (int i = 0; i < ds.Length; i++) acc += (double)ds[i] * ds[i];
        else for (int i = 0; i < ds.Length; i++) acc += Math.Abs(ds[i]);
        y.Span[0] = (float)(acc / p.Size);
    }

    public override void PairLossBackward(Tensor diff, Tensor g, bool squared, Tensor dp)
    {
        float k = g.ReadOnlySpan[0] / diff.Size * (squared ? 2f : 1f);
        var o = dp.Span; var dd = diff.ReadOnlySpan;
        if (squared) TensorPrimitives.Multiply(dd, k, o);
        else for (int i = 0; i < o.Length; i++) o[i] = dd[i] > 0 ? k : dd[i] < 0 ? -k : 0f;
    }

    // ---- normalization ----------------------------------------------------------------------------
    private sealed record NormStats(double[] Mean, float[] Rstd);

    private static ReadOnlySpan<float> Optional(Tensor? t) => t is null ? default : t.ReadOnlySpan;
    private static Span<float> OptionalOut(Tensor? t) => t is null ? default : t.Span;

    public override object GroupNorm(Tensor x, int n, int c, int s, int groups, Tensor? weight, Tensor? bias, float eps, bool swish, Tensor y)
    {
        var stats = new NormStats(new double[n * groups], new float[n * groups]);
        if (x.Size > 0)
            NormKernels.GroupNormForward(x.ReadOnlySpan, n, c, s, groups, Optional(weight), Optional(bias), eps, swish, y.Span, stats.Mean, stats.Rstd);
        return stats;
    }

    public override void GroupNormBackward(object saved, Tensor x, Tensor g, int n, int c, int s, int groups, Tensor? weight, Tensor? bias, bool swish,
        Tensor? dx, Tensor? dw, Tensor? db, bool accumulate)
    {
        var stats = (NormStats)saved;
        if (x.Size > 0)
            NormKernels.GroupNormBackward(x.ReadOnlySpan, g.ReadOnlySpan, n, c, s, groups, Optional(weight), Optional(bias), stats.Mean, stats.Rstd, swish,
                OptionalOut(dx), OptionalOut(dw), OptionalOut(db), accumulate);
        else { dw?.Span.Clear(); db?.Span.Clear(); }
    }

    public override object RowNorm(Tensor x, int rows, int d, Tensor? weight, Tensor? bias, float eps, bool rms, Tensor y)
    {
        var stats = new NormStats(new double[rows], new float[rows]);
        if (x.Size > 0) NormKernels.RowNormForward(x.ReadOnlySpan, rows, d, Optional(weight), Optional(bias), eps, rms, y.Span, stats.Mean, stats.Rstd);
        return stats;
    }

    public override void RowNormBackward(object saved, Tensor x, Tensor g, int rows, int d, Tensor? weight, bool rms,
        Tensor? dx, Tensor? dw, Tensor? db, bool accumulate)
    {
        var stats = (NormStats)saved;
        if (x.Size > 0)
            NormKernels.RowNormBackward(x.ReadOnlySpan, g.ReadOnlySpan, rows, d, Optional(weight), stats.Mean, stats.Rstd, rms,
                OptionalOut(dx), OptionalOut(dw), OptionalOut(db), accumulate);
        else { dw?.Span.Clear(); db?.Span.Clear(); }
    }

    /// <summary>Per channel: the mean as a float head and remainder, the reciprocal std, and the affine map y = (x − head)·scale + shift.</summary>
    private sealed record BatchNormSaved(float[] Mean, float[] MeanLo, float[] Rstd, float[] Scale, long Count);

    public override object BatchNorm(Tensor x, int n, int c, int s, Tensor? weight, Tensor? bias, Tensor runningMean, Tensor runningVar,
        bool training, float momentum, float eps, Tensor y)
    {
        long count = (long)n * s;
        var mean = new float[c];     // float head of each channel mean
        var meanLo = new float[c];   // and the remainder (nonzero only for batch statistics)
        var rstd = new float[c];
        if (training)
        {
            var mu = new double[c];
            var variance = new double[c];
            NormKernels.ChannelMoments(x.ReadOnlySpan, n, c, s, mu, variance);
            var rm = runningMean.Span;
            var rv = runningVar.Span;
            for (int ch = 0; ch < c; ch++)
            {
                (mean[ch], meanLo[ch]) = NormKernels.Split(mu[ch]);
                rstd[ch] = (float)(1.0 / Math.Sqrt(variance[ch] + eps));
                // running = (1 − m)·running + m·batch statistic, with the unbiased variance
                rm[ch] = (float)((1.0 - momentum) * rm[ch] + momentum * mu[ch]);
                rv[ch] = (float)((1.0 - momentum) * rv[ch] + momentum * variance[ch] * count / (count - 1));
            }
        }
        else
        {
            var rm = runningMean.ReadOnlySpan;
            var rv = runningVar.ReadOnlySpan;
            for (int ch = 0; ch < c; ch++)
            {
                mean[ch] = rm[ch];
                rstd[ch] = (float)(1.0 / Math.Sqrt(rv[ch] + (double)eps));
            }
        }
        var scale = new float[c];
        var shift = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            scale[ch] = weight is null ? rstd[ch] : rstd[ch] * weight.ReadOnlySpan[ch];
            shift[ch] = (bias is null ? 0f : bias.ReadOnlySpan[ch]) - meanLo[ch] * scale[ch];
        }
        if (x.Size > 0) NormKernels.ChannelAffine(x.ReadOnlySpan, n, c, s, mean, scale, shift, y.Span);
        return new BatchNormSaved(mean, meanLo, rstd, scale, count);
    }

    public override void BatchNormBackward(object saved, Tensor x, Tensor g, int n, int c, int s, Tensor? weight, bool training,
        Tensor? dx, Tensor? dw, Tensor? db)
    {
        var (mean, meanLo, rstd, scale, count) = (BatchNormSaved)saved;
        var sdy = new double[c];
        var sdyx = new double[c];
        if (x.Size > 0) NormKernels.ChannelGradSums(x.ReadOnlySpan, g.ReadOnlySpan, n, c, s, mean, sdy, sdyx);
        for (int ch = 0; ch < c; ch++) sdyx[ch] -= meanLo[ch] * sdy[ch]; // Σdy·(x − mean) from Σdy·(x − head)
        if (dx is not null)
        {
            var b = new float[c];
            var cc = new float[c];
            if (training)
                for (int ch = 0; ch < c; ch++)
                {
                    // dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·w, x̂ = (x − mean)·r
                    double r = rstd[ch], w = weight is null ? 1.0 : weight.ReadOnlySpan[ch];
                    b[ch] = (float)(-r * r * r * w * sdyx[ch] / count);
                    cc[ch] = (float)(-r * w * sdy[ch] / count - b[ch] * (double)meanLo[ch]);
                }
            if (x.Size > 0) NormKernels.ChannelLinear(g.ReadOnlySpan, x.ReadOnlySpan, n, c, s, mean, scale, b, cc, dx.Span);
        }
        if (dw is not null)
            for (int ch = 0; ch < c; ch++) dw.Span[ch] = (float)(rstd[ch] * sdyx[ch]);
        if (db is not null)
            for (int ch = 0; ch < c; ch++) db.Span[ch] = (float)sdy[ch];
    }

    public override object L2Normalize(Tensor x, int outer, int n, int inner, float eps, Tensor y)
    {
        var norms = new float[outer * inner]; // max(‖x‖, eps) per vector
        Indexing.L2NormalizeForward(x.ReadOnlySpan, outer, n, inner, eps, norms, y.Span);
        return norms;
    }

    public override void L2NormalizeBackward(object saved, Tensor g, Tensor y, Tensor x, int outer, int n, int inner, float eps, Tensor dx) =>
        Indexing.L2NormalizeBackward(g.ReadOnlySpan, y.ReadOnlySpan, x.ReadOnlySpan, outer, n, inner, eps, (float[])saved, dx.Span);

    // ---- attention ----------------------------------------------------------------------------------
    public override void Attention(Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, int bh, int tq, int tk, int d, bool causal, float scale,
        long kvStride = 0)
    {
        if (kvStride == 0) AttentionKernels.Forward(q.ReadOnlySpan, k.ReadOnlySpan, v.ReadOnlySpan, o.Span, lse.Span, bh, tq, tk, d, causal, scale);
        else AttentionKernels.Forward(q.ReadOnlySpan, k.ReadOnlySpan, v.ReadOnlySpan, o.Span, lse.Span, bh, tq, tk, d, causal, scale, kvStride);
    }

    public override void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, Tensor g, Tensor dq, Tensor dk, Tensor dv,
        int bh, int tq, int tk, int d, bool causal, float scale) =>
        AttentionKernels.Backward(q.ReadOnlySpan, k.ReadOnlySpan, v.ReadOnlySpan, o.ReadOnlySpan, lse.ReadOnlySpan, g.ReadOnlySpan,
            dq.Span, dk.Span, dv.Span, bh, tq, tk, d, causal, scale);

    public override unsafe void AttentionPrefix(Tensor q, Tensor kStore, Tensor vStore, Tensor o, int bh, int tq, int length, int d, int capacity,
        bool causal, float scale)
    {
        long stride = (long)capacity * d;
        if (tq <= AttentionDecode.MaxQueries)
        {
            fixed (float* pq = q.ReadOnlySpan, pk = kStore.ReadOnlySpan, pv = vStore.ReadOnlySpan, py = o.Span)
                AttentionDecode.Forward(pq, pk, pv, py, bh, tq, length, d, stride, causal, scale);
        }
        else
        {
            var lse = Tensor.Empty(bh, tq);
            AttentionKernels.Forward(q.ReadOnlySpan, kStore.ReadOnlySpan, vStore.ReadOnlySpan, o.Span, lse.Span, bh, tq, length, d, causal, scale, stride);
        }
    }

    public override void Rotary(Tensor x, Tensor table, Tensor y, int b, int t, int h, int d, bool inverse) =>
        RotaryKernels.Rotary(x.ReadOnlySpan, table.ReadOnlySpan, y.Span, b, t, h, d, inverse);
}
