using System.Runtime.CompilerServices;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>Hyperparameters of one Adam/AdamW update of one tensor, already bias-corrected (torch's single-tensor Adam).</summary>
public readonly record struct AdamStepArgs(
    float Beta1, float Beta2, float Eps,
    /// <summary>AdamW: p ← p·(1 − lr·wd) first; 1 when there is no decoupled decay.</summary>
    float DecayFactor,
    /// <summary>Adam's L2 weight decay: g ← g + wd·p; 0 for AdamW.</summary>
    float L2,
    /// <summary>lr / (1 − β₁ᵗ).</summary>
    float StepSize,
    /// <summary>√(1 − β₂ᵗ).</summary>
    float Bc2Sqrt);

/// <summary>
/// The fused Adam/AdamW update: one pass reads p, g, m, v and writes p, m, v (PyTorch's
/// single-tensor path walks memory five times). Per element, in float32:
/// <code>
/// p ← p·decay;  g ← g + l2·p
/// m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
/// p ← p − stepSize · m / (√v / √(1−β₂ᵗ) + eps)
/// </code>
/// </summary>
public static class Adam
{
    public static void Step(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, in AdamStepArgs a)
    {
        int n = p.Length;
        if (g.Length != n || m.Length != n || v.Length != n)
            throw new ArgumentException($"adam: p, g, m, v lengths differ ({n}, {g.Length}, {m.Length}, {v.Length})");
        unsafe
        {
            fixed (float* pp = p, gp = g, mp = m, vp = v)
            {
                var args = a;
                nint P = (nint)pp, G = (nint)gp, M = (nint)mp, V = (nint)vp;
                // Memory-bound: two threads only pay off on large tensors.
                Par.ForRange(n, 16, (s, e) => Range((float*)P, (float*)G, (float*)M, (float*)V, s, e, args));
            }
        }
    }

    private static unsafe void Range(float* p, float* g, float* m, float* v, int start, int end, AdamStepArgs a)
    {
        int i = start;
        switch (SimdPath.Bits)
        {
            case 512: i = Range<V512>(p, g, m, v, start, end, a); break;
            case 256: i = Range<V256>(p, g, m, v, start, end, a); break;
            case 128: i = Range<V128>(p, g, m, v, start, end, a); break;
        }
        // the tail (and the scalar path): the reference, element by element
        float omb1 = 1 - a.Beta1, omb2 = 1 - a.Beta2, invBc2 = 1 / a.Bc2Sqrt;
        for (; i < end; i++) Scalar(ref p[i], g[i], ref m[i], ref v[i], a, omb1, omb2, invBc2);
    }

    /// <summary>Whole vectors from start on; returns where the tail begins.</summary>
    private static unsafe int Range<V>(float* p, float* g, float* m, float* v, int start, int end, AdamStepArgs a) where V : unmanaged, IVec<V>
    {
        var b1 = V.Create(a.Beta1); var c1 = V.Create(1 - a.Beta1);
        var b2 = V.Create(a.Beta2); var c2 = V.Create(1 - a.Beta2);
        var decay = V.Create(a.DecayFactor); var l2 = V.Create(a.L2);
        var eps = V.Create(a.Eps); var ib = V.Create(1 / a.Bc2Sqrt); var ss = V.Create(-a.StepSize);
        int i = start;
        for (; i <= end - V.Count; i += V.Count)
        {
            var pv = V.Load(p + i) * decay;
            var gv = V.MultiplyAddEstimate(pv, l2, V.Load(g + i));
            var mv = V.MultiplyAddEstimate(gv, c1, V.Load(m + i) * b1);
            var vv = V.MultiplyAddEstimate(c2 * gv, gv, V.Load(v + i) * b2);
            var denom = V.MultiplyAddEstimate(V.Sqrt(vv), ib, eps);
            pv = V.MultiplyAddEstimate(ss, mv / denom, pv);
            mv.Store(m + i); vv.Store(v + i); pv.Store(p + i);
        }
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scalar(ref float p, float g, ref float m, ref float v, in AdamStepArgs a, float omb1, float omb2, float invBc2)
    {
        p *= a.DecayFactor;
        g = float.MultiplyAddEstimate(p, a.L2, g);
        m = float.MultiplyAddEstimate(g, omb1, m * a.Beta1);
        v = float.MultiplyAddEstimate(omb2 * g, g, v * a.Beta2);
        float denom = float.MultiplyAddEstimate(MathF.Sqrt(v), invBc2, a.Eps);
        p = float.MultiplyAddEstimate(-a.StepSize, m / denom, p);
    }
}
