using System.Numerics.Tensors;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Softmax, log-softmax and the fused cross-entropy kernels. A tensor is viewed as [outer, n, inner]
/// around the softmax axis (inner = 1 is the contiguous last-axis fast path). All kernels subtract the
/// row maximum before exponentiating (numerically stable); sums of exponentials are taken in float32
/// (at most n terms, each ≤ 1).
/// </summary>
public static class SoftmaxKernels
{
    // ---- softmax / log-softmax ------------------------------------------------------------------

    /// <summary>y = softmax(x) (or log-softmax) along the middle axis of [outer, n, inner].</summary>
    public static unsafe void Forward(float[] x, float[] y, int outer, int n, int inner, bool log)
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
                    var m = new float[inner]; var sum = new float[inner];
                    for (int o = s; o < e; o++) StridedForward((float*)X + (long)o * n * inner, (float*)Y + (long)o * n * inner, n, inner, log, m, sum);
                });
        }
    }

    /// <summary>Softmax (or log-softmax) of one contiguous row.</summary>
    public static void RowForward(ReadOnlySpan<float> x, Span<float> y, bool log)
    {
        float m = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, m, y);
        TensorPrimitives.Exp(y, y);
        float s = TensorPrimitives.Sum(y);
        if (log) TensorPrimitives.Subtract(x, m + MathF.Log(s), y);
        else TensorPrimitives.Multiply(y, 1f / s, y);
    }

    private static unsafe void StridedForward(float* x, float* y, int n, int inner, bool log, float[] m, float[] s)
    {
        var ms = m.AsSpan(); var ss = s.AsSpan();
        new ReadOnlySpan<float>(x, inner).CopyTo(ms);
        for (int j = 1; j < n; j++) TensorPrimitives.Max(ms, new ReadOnlySpan<float>(x + (long)j * inner, inner), ms);
        ss.Clear();
        for (int j = 0; j < n; j++)
        {
            var yj = new Span<float>(y + (long)j * inner, inner);
            TensorPrimitives.Subtract(new ReadOnlySpan<float>(x + (long)j * inner, inner), ms, yj);
            TensorPrimitives.Exp(yj, yj);
            TensorPrimitives.Add(ss, yj, ss);
        }
        if (log)
        {
            TensorPrimitives.Log(ss, ss);
            TensorPrimitives.Add(ss, ms, ss); // logsumexp
            for (int j = 0; j < n; j++)
                TensorPrimitives.Subtract(new ReadOnlySpan<float>(x + (long)j * inner, inner), ss, new Span<float>(y + (long)j * inner, inner));
        }
        else
        {
            TensorPrimitives.Reciprocal(ss, ss);
            for (int j = 0; j < n; j++)
            {
                var yj = new Span<float>(y + (long)j * inner, inner);
                TensorPrimitives.Multiply(yj, ss, yj);
            }
        }
    }

    /// <summary>
    /// Gradient from the forward output y and upstream g: softmax dx = y∘(g − Σ g∘y);
    /// log-softmax dx = g − exp(y)·Σ g.
    /// </summary>
    public static unsafe void Backward(float[] y, float[] g, float[] dx, int outer, int n, int inner, bool log)
    {
        if (outer == 0 || n == 0 || inner == 0) return;
        fixed (float* py = y, pg = g, pd = dx)
        {
            nint Y = (nint)py, G = (nint)pg, D = (nint)pd;
            Par.ForRange(outer, 4L * n * inner, (s, e) =>
            {
                var acc = new float[inner];
                var tmp = new float[inner];
                for (int o = s; o < e; o++)
                {
                    long b = (long)o * n * inner;
                    float* yo = (float*)Y + b, go = (float*)G + b, d = (float*)D + b;
                    if (inner == 1)
                    {
                        var yr = new ReadOnlySpan<float>(yo, n); var gr = new ReadOnlySpan<float>(go, n); var dr = new Span<float>(d, n);
                        if (log)
                        {
                            float sg = TensorPrimitives.Sum(gr);
                            TensorPrimitives.Exp(yr, dr);
                            TensorPrimitives.MultiplyAdd(dr, -sg, gr, dr);
                        }
                        else
                        {
                            float dot = TensorPrimitives.Dot(gr, yr);
                            TensorPrimitives.Subtract(gr, dot, dr);
                            TensorPrimitives.Multiply(dr, yr, dr);
                        }
                        continue;
                    }
                    var a = acc.AsSpan(); a.Clear();
                    for (int j = 0; j < n; j++)
                    {
                        var gj = new ReadOnlySpan<float>(go + (long)j * inner, inner);
                        if (log) TensorPrimitives.Add(a, gj, a);
                        else { TensorPrimitives.Multiply(gj, new ReadOnlySpan<float>(yo + (long)j * inner, inner), tmp); TensorPrimitives.Add(a, tmp, a); }
                    }
                    for (int j = 0; j < n; j++)
                    {
                        var yj = new ReadOnlySpan<float>(yo + (long)j * inner, inner);
                        var gj = new ReadOnlySpan<float>(go + (long)j * inner, inner);
                        var dj = new Span<float>(d + (long)j * inner, inner);
                        if (log)
                        {
                            TensorPrimitives.Exp(yj, tmp);
                            TensorPrimitives.Multiply(tmp, a, tmp);
                            TensorPrimitives.Subtract(gj, tmp, dj);
                        }
                        else
                        {
                            TensorPrimitives.Subtract(gj, a, dj);
                            TensorPrimitives.Multiply(dj, yj, dj);
                        }
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
    public static unsafe void CrossEntropyForward(float[] logits, int[] targets, int ignoreIndex, int n, int c, float[] lse, float[] loss)
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
        float m = TensorPrimitives.Max(row);
        if (float.IsNegativeInfinity(m) || float.IsNaN(m)) return m;
        fixed (float* x = row)
        {
            float s = SimdPath.Bits switch
            {
                512 => SumExp<V512>(x, m, row.Length),
                256 => SumExp<V256>(x, m, row.Length),
                128 => SumExp<V128>(x, m, row.Length),
                _ => SumExpScalar(x, m, 0, row.Length),
            };
            return m + MathF.Log(s);
        }
    }

    /// <summary>Σ exp(x − m) over x[0..n).</summary>
    private static unsafe float SumExp<V>(float* x, float m, int n) where V : unmanaged, IVec<V>
    {
        var mv = V.Create(m);
        V a0 = V.Zero, a1 = V.Zero;
        int j = 0;
        // two accumulators: the adds don't wait on each other
        for (; j + 2 * V.Count <= n; j += 2 * V.Count)
        {
            a0 += SimdExp.Exp(V.Load(x + j) - mv);
            a1 += SimdExp.Exp(V.Load(x + j + V.Count) - mv);
        }
        for (; j + V.Count <= n; j += V.Count) a0 += SimdExp.Exp(V.Load(x + j) - mv);
        return V.Sum(a0 + a1) + SumExpScalar(x, m, j, n);
    }

    private static unsafe float SumExpScalar(float* x, float m, int from, int n)
    {
        float s = 0;
        for (int j = from; j < n; j++) s += MathF.Exp(x[j] - m);
        return s;
    }

    /// <summary>d = exp(x − shift)·k (one fused pass).</summary>
    private static unsafe void ExpScaled(float* x, float shift, float k, float* d, int n)
    {
        int j = SimdPath.Bits switch
        {
            512 => ExpScaled<V512>(x, shift, k, d, n),
            256 => ExpScaled<V256>(x, shift, k, d, n),
            128 => ExpScaled<V128>(x, shift, k, d, n),
            _ => 0,
        };
        for (; j < n; j++) d[j] = MathF.Exp(x[j] - shift) * k;
    }

    /// <summary>The whole vectors of <see cref="ExpScaled(float*, float, float, float*, int)"/>; returns where the tail starts.</summary>
    private static unsafe int ExpScaled<V>(float* x, float shift, float k, float* d, int n) where V : unmanaged, IVec<V>
    {
        var sv = V.Create(shift); var kv = V.Create(k);
        int j = 0;
        for (; j + V.Count <= n; j += V.Count) (SimdExp.Exp(V.Load(x + j) - sv) * kv).Store(d + j);
        return j;
    }

    /// <summary>
    /// dlogits[i, :] = rowScale[i] · (softmax(row) − onehot(target[i])), with softmax = exp(row − lse[i]);
    /// ignored rows (target == ignoreIndex) get zeros.
    /// </summary>
    public static unsafe void CrossEntropyBackward(float[] logits, int[] targets, int ignoreIndex, float[] lse, float[] rowScale, bool scalarScale,
        int n, int c, float[] dlogits)
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
                    ExpScaled(row, ((float*)E)[i], k, d, c);
                    d[t] -= k;
                }
            });
        }
    }
}
