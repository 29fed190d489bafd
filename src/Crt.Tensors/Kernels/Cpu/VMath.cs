using System.Runtime.CompilerServices;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Vector math for the pointwise ops, at any width: exp (Cephes expf, ≈1 ulp on the clamped range), tanh, sigmoid,
/// and the normal CDF behind GELU. The float overloads are the scalar reference (the <c>SimdPath.Bits = 0</c> path).
/// <see cref="Exp{V}"/> clamps its input so results stay finite and normal; <see cref="SimdExp"/> (attention,
/// cross-entropy) is a different exp that flushes tiny results to 0, which those kernels' masking relies on.
/// </summary>
public static class VMath
{
    private const float ExpHi = 88.3762626647949f, ExpLo = -87.3365447504f; // finite, normal results
    private const float Log2E = 1.44269504088896341f, C1 = 0.693359375f, C2 = -2.12194440e-4f;
    private const float P0 = 1.9875691500E-4f, P1 = 1.3981999507E-3f, P2 = 8.3334519073E-3f,
        P3 = 4.1665795894E-2f, P4 = 1.6666665459E-1f, P5 = 5.0000001201E-1f;

    /// <summary>e^x with x clamped to [-87.34, 88.38] (so results stay finite and normal; NaN is not preserved).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Exp<V>(V x) where V : unmanaged, IVec<V>
    {
        x = V.MinNative(V.MaxNative(x, V.Create(ExpLo)), V.Create(ExpHi));
        // e^x = 2ⁿ·eʳ, n = round(x·log₂e), r = x − n·ln2 with ln2 in two parts
        var n = V.Floor(V.MultiplyAddEstimate(x, V.Create(Log2E), V.Create(0.5f)));
        var r = V.MultiplyAddEstimate(n, V.Create(-C1), x);
        r = V.MultiplyAddEstimate(n, V.Create(-C2), r);
        var p = V.MultiplyAddEstimate(V.Create(P0), r, V.Create(P1));
        p = V.MultiplyAddEstimate(p, r, V.Create(P2));
        p = V.MultiplyAddEstimate(p, r, V.Create(P3));
        p = V.MultiplyAddEstimate(p, r, V.Create(P4));
        p = V.MultiplyAddEstimate(p, r, V.Create(P5));
        p = V.MultiplyAddEstimate(p, r * r, r + V.One);
        return p * V.Pow2(n);
    }

    // tanh (Cephes tanhf): an odd polynomial below |x| = 0.625, 1 − 2/(e^{2|x|} + 1) above; relative error ≈ 1e-7.
    private const float T0 = -5.70498872745E-3f, T1 = 2.06390887954E-2f, T2 = -5.37397155531E-2f, T3 = 1.33314422036E-1f, T4 = -3.33332819422E-1f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Tanh<V>(V x) where V : unmanaged, IVec<V>
    {
        var ax = V.Abs(x);
        var big = V.CopySign(V.One - V.Create(2f) / (Exp(ax + ax) + V.One), x);
        var z = x * x;
        var p = V.MultiplyAddEstimate(V.Create(T0), z, V.Create(T1));
        p = V.MultiplyAddEstimate(p, z, V.Create(T2));
        p = V.MultiplyAddEstimate(p, z, V.Create(T3));
        p = V.MultiplyAddEstimate(p, z, V.Create(T4));
        var small = V.MultiplyAddEstimate(p * z, x, x);
        return V.Select(V.GreaterThan(ax, V.Create(0.625f)), big, small);
    }

    public static float Tanh(float x) => MathF.Tanh(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Sigmoid<V>(V x) where V : unmanaged, IVec<V> => V.One / (V.One + Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    // Normal CDF Φ(x) = ½(1 + erf(x/√2)) with z = x/√2:
    //   |z| ≤ 1: erf(z) = z·A(2z² − 1)                       (A: degree 6, relative error < 1e-8)
    //   |z| > 1: erfc(|z|) = e^{−z²}·B((1/|z| − 7/12)·12/5)  (B: degree 10 on 1 ≤ |z| ≤ 6, relative error < 1e-7)
    // The second form keeps Φ accurate in relative terms far into the negative tail. Coefficients are
    // least-squares fits to math.erf/erfc (tools/parity/fit_erf.py). The BCL has no erf, so the scalar
    // reference evaluates the same approximation in scalar code.
    private const float A0 = 1.226134247e-06f, A1 = -1.766878620e-05f, A2 = 2.175202360e-04f, A3 = -2.285419897e-03f, A4 = 1.985249464e-02f, A5 = -1.405360972e-01f, A6 = 9.654687388e-01f;
    private const float B0 = -7.932020234e-06f, B1 = 1.714322393e-05f, B2 = -2.117941958e-06f, B3 = -6.109288850e-05f, B4 = 2.642091178e-04f, B5 = -7.359771475e-04f,
        B6 = 1.034902686e-03f, B7 = 2.820719387e-03f, B8 = -3.083110862e-02f, B9 = 1.653627099e-01f, B10 = 2.897221175e-01f;
    private const float BCenter = 7f / 12f, BScale = 12f / 5f, InvSqrt2 = 0.70710678118654752f;

    /// <summary>Φ(x) and, through <paramref name="gauss"/>, e^{−x²/2} (for the GELU derivative).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V NormalCdf<V>(V x, out V gauss) where V : unmanaged, IVec<V>
    {
        var z = x * V.Create(InvSqrt2);
        var z2 = z * z;
        var az = V.Abs(z);
        // e^(−x²/2) with x² split exactly into hi + lo, so the exponent carries no rounding error (this needs the fused
        // multiply-add's single rounding)
        var hi = x * x;
        var lo = V.Fma(x, x, -hi);
        gauss = Exp(hi * V.Create(-0.5f)) * V.MultiplyAddEstimate(lo, V.Create(-0.5f), V.One);
        // small |z|
        var s = V.MultiplyAddEstimate(z2, V.Create(2f), V.Create(-1f));
        var a = V.MultiplyAddEstimate(V.Create(A0), s, V.Create(A1));
        a = V.MultiplyAddEstimate(a, s, V.Create(A2));
        a = V.MultiplyAddEstimate(a, s, V.Create(A3));
        a = V.MultiplyAddEstimate(a, s, V.Create(A4));
        a = V.MultiplyAddEstimate(a, s, V.Create(A5));
        a = V.MultiplyAddEstimate(a, s, V.Create(A6));
        var small = V.MultiplyAddEstimate(z * a, V.Create(0.5f), V.Create(0.5f));
        // large |z|: tail = ½·erfc(|z|)
        var t = V.Max(V.One / V.Max(az, V.One), V.Create(1f / 6f));
        var u = (t - V.Create(BCenter)) * V.Create(BScale);
        var b = V.MultiplyAddEstimate(V.Create(B0), u, V.Create(B1));
        b = V.MultiplyAddEstimate(b, u, V.Create(B2));
        b = V.MultiplyAddEstimate(b, u, V.Create(B3));
        b = V.MultiplyAddEstimate(b, u, V.Create(B4));
        b = V.MultiplyAddEstimate(b, u, V.Create(B5));
        b = V.MultiplyAddEstimate(b, u, V.Create(B6));
        b = V.MultiplyAddEstimate(b, u, V.Create(B7));
        b = V.MultiplyAddEstimate(b, u, V.Create(B8));
        b = V.MultiplyAddEstimate(b, u, V.Create(B9));
        b = V.MultiplyAddEstimate(b, u, V.Create(B10));
        var tail = gauss * b * V.Create(0.5f);
        var large = V.Select(V.LessThan(z, V.Zero), tail, V.One - tail);
        return V.Select(V.LessThanOrEqual(az, V.One), small, large);
    }

    /// <summary>The scalar reference of <see cref="NormalCdf{V}"/> (the same approximation, e^x from MathF).</summary>
    public static float NormalCdf(float x, out float gauss)
    {
        float z = x * InvSqrt2, az = MathF.Abs(z);
        float hi = x * x, lo = MathF.FusedMultiplyAdd(x, x, -hi);
        gauss = MathF.Exp(hi * -0.5f) * float.MultiplyAddEstimate(lo, -0.5f, 1f);
        if (az <= 1f)
        {
            float s = float.MultiplyAddEstimate(z * z, 2f, -1f);
            float a = Horner(s, A0, A1, A2, A3, A4, A5, A6);
            return float.MultiplyAddEstimate(z * a, 0.5f, 0.5f);
        }
        float u = (MathF.Max(1f / az, 1f / 6f) - BCenter) * BScale;
        float tail = gauss * Horner(u, B0, B1, B2, B3, B4, B5, B6, B7, B8, B9, B10) * 0.5f;
        return z < 0 ? tail : 1f - tail;
    }

    private static float Horner(float x, params ReadOnlySpan<float> c)
    {
        float p = c[0];
        for (int i = 1; i < c.Length; i++) p = float.MultiplyAddEstimate(p, x, c[i]);
        return p;
    }
}
