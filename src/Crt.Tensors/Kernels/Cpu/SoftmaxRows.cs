using System.Runtime.CompilerServices;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// The passes of softmax, log-softmax and cross-entropy that exponentiate, fused and generic over the vector width
/// (<see cref="SimdPath.Bits"/>; width 0 runs the scalar reference). The passes without an exp (max, dot, scale)
/// stay with TensorPrimitives, which is as fast at whatever width the CPU has; its exp is not (it computes in double),
/// and a fused pass saves the memory round trips of separate subtract / exp / sum calls.
/// <para>Rows are contiguous (softmax over the last axis); the strided kernels take a softmax axis of n rows of
/// <c>inner</c> contiguous columns and run down whole vectors of columns at once. Maxima use the native max: a NaN
/// input still reaches the output through exp, which keeps NaN.</para>
/// <para>Each method inlines <see cref="SimdExp.Exp{V}"/> once, and the per-width methods are not inlined into their
/// dispatchers: with more exp sites in one method the JIT's inlining budget runs out and leaves calls to every vector
/// operator (seen at 128 bits: 2.7× slower).</para>
/// </summary>
internal static unsafe class SoftmaxRows
{
    // ---- contiguous rows ------------------------------------------------------------------------

    /// <summary>
    /// The largest of x[0..n) by the native max (n ≥ 1). Where x holds a NaN the result may be any element, but the exp
    /// pass that follows every use turns the row into NaN anyway; TensorPrimitives.Max's NaN-exact max costs ten
    /// instructions a vector on AVX2 (as much as the exp pass).
    /// </summary>
    public static float Max(float* x, int n)
    {
        float m = float.NegativeInfinity;
        int j = SimdPath.Bits switch
        {
            512 => Max<V512>(x, n, ref m),
            256 => Max<V256>(x, n, ref m),
            128 => Max<V128>(x, n, ref m),
            _ => 0,
        };
        for (; j < n; j++) m = Math.Max(m, x[j]);
        return m;
    }

    /// <summary>The whole vectors of <see cref="Max(float*, int)"/> into m; returns where the tail starts.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Max<V>(float* x, int n, ref float m) where V : unmanaged, IVec<V>
    {
        int w = V.Count, j = 0;
        if (n < w) return 0;
        V m0 = V.Load(x), m1 = m0, m2 = m0, m3 = m0; // four chains: the max latency is hidden
        for (; j + 4 * w <= n; j += 4 * w)
        {
            m0 = V.MaxNative(m0, V.Load(x + j)); m1 = V.MaxNative(m1, V.Load(x + j + w));
            m2 = V.MaxNative(m2, V.Load(x + j + 2 * w)); m3 = V.MaxNative(m3, V.Load(x + j + 3 * w));
        }
        for (; j + w <= n; j += w) m0 = V.MaxNative(m0, V.Load(x + j));
        m = V.MaxAcross(V.MaxNative(V.MaxNative(m0, m1), V.MaxNative(m2, m3)));
        return j;
    }

    /// <summary>Σ exp(x − m) over x[0..n); when <paramref name="y"/> is not null it also receives exp(x − m).</summary>
    public static float SumExp(float* x, float m, float* y, int n) => SimdPath.Bits switch
    {
        512 => SumExp<V512>(x, m, y, n),
        256 => SumExp<V256>(x, m, y, n),
        128 => SumExp<V128>(x, m, y, n),
        _ => SumExpTail(x, m, y, 0, n),
    };

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float SumExp<V>(float* x, float m, float* y, int n) where V : unmanaged, IVec<V>
    {
        // one exp per loop body (see the class summary); a single accumulator, as its add is short beside the exp
        var mv = V.Create(m);
        var a = V.Zero;
        int j = 0;
        for (; j + V.Count <= n; j += V.Count)
        {
            var e = SimdExp.Exp(V.Load(x + j) - mv);
            if (y != null) e.Store(y + j);
            a += e;
        }
        return V.Sum(a) + SumExpTail(x, m, y, j, n);
    }

    private static float SumExpTail(float* x, float m, float* y, int from, int n)
    {
        float s = 0;
        for (int j = from; j < n; j++)
        {
            float e = MathF.Exp(x[j] - m);
            if (y != null) y[j] = e;
            s += e;
        }
        return s;
    }

    /// <summary>d = exp(x − shift)·k, plus add[0..n) when <paramref name="add"/> is not null (one pass).</summary>
    public static void ExpScaled(float* x, float shift, float k, float* add, float* d, int n)
    {
        int j = SimdPath.Bits switch
        {
            512 => ExpScaled<V512>(x, shift, k, add, d, n),
            256 => ExpScaled<V256>(x, shift, k, add, d, n),
            128 => ExpScaled<V128>(x, shift, k, add, d, n),
            _ => 0,
        };
        for (; j < n; j++) d[j] = MathF.Exp(x[j] - shift) * k + (add != null ? add[j] : 0f);
    }

    /// <summary>The whole vectors of <see cref="ExpScaled(float*, float, float, float*, float*, int)"/>; returns where the tail starts.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int ExpScaled<V>(float* x, float shift, float k, float* add, float* d, int n) where V : unmanaged, IVec<V>
    {
        var sv = V.Create(shift); var kv = V.Create(k);
        int j = 0;
        for (; j + V.Count <= n; j += V.Count)
        {
            var e = SimdExp.Exp(V.Load(x + j) - sv) * kv;
            (add == null ? e : e + V.Load(add + j)).Store(d + j);
        }
        return j;
    }

    // ---- strided: softmax over n rows of [n, inner] ------------------------------------------------

    /// <summary>y [n, inner] = softmax (or log-softmax) of x [n, inner] down each column.</summary>
    public static void StridedForward(float* x, float* y, int n, int inner, bool log)
    {
        int c = SimdPath.Bits switch
        {
            512 => StridedForward<V512>(x, y, n, inner, log),
            256 => StridedForward<V256>(x, y, n, inner, log),
            128 => StridedForward<V128>(x, y, n, inner, log),
            _ => 0,
        };
        for (; c < inner; c++) StridedForwardColumn(x + c, y + c, n, inner, log);
    }

    /// <summary>Whole vectors of columns; returns the first column left for the scalar loop.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int StridedForward<V>(float* x, float* y, int n, int inner, bool log) where V : unmanaged, IVec<V>
    {
        float* lanes = stackalloc float[2 * V.Count];
        int c = 0;
        for (; c + V.Count <= inner; c += V.Count)
        {
            float* xc = x + c, yc = y + c;
            var m = V.Load(xc);
            for (int j = 1; j < n; j++) m = V.MaxNative(m, V.Load(xc + (long)j * inner));
            var s = V.Zero;
            for (int j = 0; j < n; j++)
            {
                var e = SimdExp.Exp(V.Load(xc + (long)j * inner) - m);
                if (!log) e.Store(yc + (long)j * inner);
                s += e;
            }
            if (log)
            {
                // logsumexp lane by lane (no vector log here; it is once per column, not per element)
                m.Store(lanes); s.Store(lanes + V.Count);
                for (int i = 0; i < V.Count; i++) lanes[i] += MathF.Log(lanes[V.Count + i]);
                var t = V.Load(lanes);
                for (int j = 0; j < n; j++) (V.Load(xc + (long)j * inner) - t).Store(yc + (long)j * inner);
            }
            else
            {
                var r = V.One / s;
                for (int j = 0; j < n; j++) (V.Load(yc + (long)j * inner) * r).Store(yc + (long)j * inner);
            }
        }
        return c;
    }

    /// <summary>One column (stride <paramref name="inner"/>): the scalar reference and the tail of the vector path.</summary>
    private static void StridedForwardColumn(float* x, float* y, int n, int inner, bool log)
    {
        float m = float.NegativeInfinity, s = 0;
        for (int j = 0; j < n; j++) m = Math.Max(m, x[(long)j * inner]);
        for (int j = 0; j < n; j++)
        {
            float e = MathF.Exp(x[(long)j * inner] - m);
            if (!log) y[(long)j * inner] = e;
            s += e;
        }
        if (log)
        {
            float t = m + MathF.Log(s);
            for (int j = 0; j < n; j++) y[(long)j * inner] = x[(long)j * inner] - t;
        }
        else
        {
            float r = 1f / s;
            for (int j = 0; j < n; j++) y[(long)j * inner] *= r;
        }
    }

    /// <summary>
    /// d [n, inner] from the forward output y and upstream g down each column: softmax d = y∘(g − Σ g∘y),
    /// log-softmax d = g − exp(y)·Σ g.
    /// </summary>
    public static void StridedBackward(float* y, float* g, float* d, int n, int inner, bool log)
    {
        int c = SimdPath.Bits switch
        {
            512 => StridedBackward<V512>(y, g, d, n, inner, log),
            256 => StridedBackward<V256>(y, g, d, n, inner, log),
            128 => StridedBackward<V128>(y, g, d, n, inner, log),
            _ => 0,
        };
        for (; c < inner; c++) StridedBackwardColumn(y + c, g + c, d + c, n, inner, log);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int StridedBackward<V>(float* y, float* g, float* d, int n, int inner, bool log) where V : unmanaged, IVec<V>
    {
        int c = 0;
        for (; c + V.Count <= inner; c += V.Count)
        {
            float* yc = y + c, gc = g + c, dc = d + c;
            var a = V.Zero;
            if (log) for (int j = 0; j < n; j++) a += V.Load(gc + (long)j * inner);
            else for (int j = 0; j < n; j++) V.FmaTo(ref a, V.Load(gc + (long)j * inner), V.Load(yc + (long)j * inner));
            for (int j = 0; j < n; j++)
            {
                long o = (long)j * inner;
                var r = log ? V.Load(gc + o) - SimdExp.Exp(V.Load(yc + o)) * a : V.Load(yc + o) * (V.Load(gc + o) - a);
                r.Store(dc + o);
            }
        }
        return c;
    }

    private static void StridedBackwardColumn(float* y, float* g, float* d, int n, int inner, bool log)
    {
        float a = 0;
        for (int j = 0; j < n; j++) a += log ? g[(long)j * inner] : g[(long)j * inner] * y[(long)j * inner];
        for (int j = 0; j < n; j++)
        {
            long o = (long)j * inner;
            d[o] = log ? g[o] - MathF.Exp(y[o]) * a : y[o] * (g[o] - a);
        }
    }
}
