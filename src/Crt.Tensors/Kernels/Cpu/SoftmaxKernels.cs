using System.Numerics.Tensors;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Softmax, log-softmax and the fused cross-entropy kernels. A tensor is viewed as [outer, n, inner]
/// around the softmax axis (inner = 1 is the contiguous last-axis fast path). All kernels subtract the
/// row maximum before exponentiating (numerically stable); sums of exponentials are taken in float32
/// (at most n terms, each ≤ 1). The exponentiating passes are <see cref="SoftmaxRows"/>' (fused, at the
/// width <see cref="SimdPath.Bits"/> selects); this file splits the work and threads it.
/// </summary>
public static class SoftmaxKernels
{
    // ---- softmax / log-softmax ------------------------------------------------------------------

    /// <summary>y = softmax(x) (or log-softmax) along the middle axis of [outer, n, inner].</summary>
    public static unsafe void Forward(ReadOnlySpan<float> x, Span<float> y, int outer, int n, int inner, bool log)
    {
        if (outer == 0 || n == 0 || inner == 0) return;
        fixed (float* px = x, py = y)
        {
            nint X = (nint)px, Y = (nint)py;
            if (inner == 1)
                Par.ForRange(outer, 4L * n, (s, e) =>
                {
                    for (int o = s; o < e; o++) RowForward(new ReadOnlySpan<float>((float*)X + (long)o * n, n), new Span<float>((float*)Y + (long)o * n, n), log);
                });
            else
                Par.ForRange(outer, 4L * n * inner, (s, e) =>
                {
                    for (int o = s; o < e; o++)
                        SoftmaxRows.StridedForward((float*)X + (long)o * n * inner, (float*)Y + (long)o * n * inner, n, inner, log);
                });
        }
    }

    /// <summary>Softmax (or log-softmax) of one contiguous row: a max pass, a fused exp(-and-store)-and-sum pass, a scale
    /// (softmax) or subtract (log-softmax) pass.</summary>
    public static unsafe void RowForward(ReadOnlySpan<float> x, Span<float> y, bool log)
    {
        fixed (float* px = x, py = y)
        {
            float m = SoftmaxRows.Max(px, x.Length);
            float s = SoftmaxRows.SumExp(px, m, log ? null : py, x.Length);
            if (log) TensorPrimitives.Subtract(x, m + MathF.Log(s), y);
            else TensorPrimitives.Multiply(y, 1f / s, y);
        }
    }

    /// <summary>
    /// Gradient from the forward output y and upstream g: softmax dx = y∘(g − Σ g∘y);
    /// log-softmax dx = g − exp(y)·Σ g.
    /// </summary>
    public static unsafe void Backward(ReadOnlySpan<float> y, ReadOnlySpan<float> g, Span<float> dx, int outer, int n, int inner, bool log)
    {
        if (outer == 0 || n == 0 || inner == 0) return;
        fixed (float* py = y, pg = g, pd = dx)
        {
            nint Y = (nint)py, G = (nint)pg, D = (nint)pd;
            Par.ForRange(outer, 4L * n * inner, (s, e) =>
            {
                for (int o = s; o < e; o++)
                {
                    long b = (long)o * n * inner;
                    float* yo = (float*)Y + b, go = (float*)G + b, d = (float*)D + b;
                    if (inner > 1) { SoftmaxRows.StridedBackward(yo, go, d, n, inner, log); continue; }
                    var yr = new ReadOnlySpan<float>(yo, n); var gr = new ReadOnlySpan<float>(go, n); var dr = new Span<float>(d, n);
                    if (log) SoftmaxRows.ExpScaled(yo, 0f, -TensorPrimitives.Sum(gr), go, d, n); // g − exp(y)·Σg
                    else
                    {
                        float dot = TensorPrimitives.Dot(gr, yr);
                        TensorPrimitives.Subtract(gr, dot, dr);
                        TensorPrimitives.Multiply(dr, yr, dr);
                    }
                }
            });
        }
    }

    // ---- cross-entropy --------------------------------------------------------------------------

    /// <summary>
    /// Per row of logits [n, c]: lse[i] = logsumexp(row) and loss[i] = lse[i] − row[target[i]]; rows whose
    /// target equals <paramref name="ignoreIndex"/> get loss 0 (lse is still written). Targets must be validated.
    /// </summary>
    public static unsafe void CrossEntropyForward(ReadOnlySpan<float> logits, int[] targets, int ignoreIndex, int n, int c, Span<float> lse, Span<float> loss)
    {
        fixed (float* pl = logits, pe = lse, po = loss)
        {
            nint L = (nint)pl, E = (nint)pe, O = (nint)po;
            Par.ForRange(n, 3L * c, (s, e) =>
            {
                for (int i = s; i < e; i++)
                {
                    var row = new ReadOnlySpan<float>((float*)L + (long)i * c, c);
                    float v = LogSumExp(row);
                    ((float*)E)[i] = v;
                    int t = targets[i];
                    ((float*)O)[i] = t == ignoreIndex ? 0f : v - row[t];
                }
            });
        }
    }

    /// <summary>logsumexp of a row without a scratch buffer (a max pass, then a fused exp-and-sum pass).</summary>
    public static unsafe float LogSumExp(ReadOnlySpan<float> row)
    {
        if (row.IsEmpty) return float.NegativeInfinity;
        fixed (float* x = row)
        {
            float m = SoftmaxRows.Max(x, row.Length);
            if (float.IsNegativeInfinity(m) || float.IsNaN(m)) return m;
            return m + MathF.Log(SoftmaxRows.SumExp(x, m, null, row.Length));
        }
    }

    /// <summary>
    /// dlogits[i, :] = rowScale[i] · (softmax(row) − onehot(target[i])), with softmax = exp(row − lse[i]);
    /// ignored rows (target == ignoreIndex) get zeros.
    /// </summary>
    public static unsafe void CrossEntropyBackward(ReadOnlySpan<float> logits, int[] targets, int ignoreIndex, ReadOnlySpan<float> lse, ReadOnlySpan<float> rowScale,
        bool scalarScale, int n, int c, Span<float> dlogits)
    {
        fixed (float* pl = logits, pe = lse, pd = dlogits, ps = rowScale)
        {
            nint L = (nint)pl, E = (nint)pe, Dd = (nint)pd, S = (nint)ps;
            Par.ForRange(n, 3L * c, (s, e) =>
            {
                for (int i = s; i < e; i++)
                {
                    float* row = (float*)L + (long)i * c, d = (float*)Dd + (long)i * c;
                    int t = targets[i];
                    float k = scalarScale ? ((float*)S)[0] : ((float*)S)[i];
                    if (t == ignoreIndex || k == 0f) { new Span<float>(d, c).Clear(); continue; }
                    SoftmaxRows.ExpScaled(row, ((float*)E)[i], k, null, d, c);
                    d[t] -= k;
                }
            });
        }
    }
}
