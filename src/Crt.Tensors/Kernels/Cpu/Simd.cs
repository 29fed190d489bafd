using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>A pointwise function of one vector (an instance so it can carry parameters).</summary>
public interface IUnaryOp
{
    Vector512<float> Apply(Vector512<float> x);
    Vector256<float> Apply(Vector256<float> x);
}

/// <summary>A pointwise function of two vectors.</summary>
public interface IBinaryOp
{
    Vector512<float> Apply(Vector512<float> a, Vector512<float> b);
    Vector256<float> Apply(Vector256<float> a, Vector256<float> b);
}

/// <summary>A pointwise function of three vectors.</summary>
public interface ITernaryOp
{
    Vector512<float> Apply(Vector512<float> a, Vector512<float> b, Vector512<float> c);
    Vector256<float> Apply(Vector256<float> a, Vector256<float> b, Vector256<float> c);
}

/// <summary>
/// Drivers that run a pointwise op struct over spans: Vector512 where accelerated, Vector256 otherwise.
/// The tail (fewer elements than a vector) goes through a zero-padded vector, so every element is
/// computed by the same code. Outputs may alias inputs (each element is read before it is written).
/// </summary>
public static class Simd
{
    public static void Map<T>(T op, ReadOnlySpan<float> x, Span<float> y) where T : struct, IUnaryOp
    {
        int n = y.Length, i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16)
                op.Apply(Vector512.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
            if (i < n)
            {
                Span<float> b = stackalloc float[16];
                b.Clear(); x[i..n].CopyTo(b);
                op.Apply(Vector512.Create((ReadOnlySpan<float>)b)).CopyTo(b);
                b[..(n - i)].CopyTo(y[i..]);
            }
        }
        else
        {
            for (; i <= n - 8; i += 8)
                op.Apply(Vector256.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
            if (i < n)
            {
                Span<float> b = stackalloc float[8];
                b.Clear(); x[i..n].CopyTo(b);
                op.Apply(Vector256.Create((ReadOnlySpan<float>)b)).CopyTo(b);
                b[..(n - i)].CopyTo(y[i..]);
            }
        }
    }

    public static void Map<T>(T op, ReadOnlySpan<float> a, ReadOnlySpan<float> c, Span<float> y) where T : struct, IBinaryOp
    {
        int n = y.Length, i = 0;
        ref float ar = ref MemoryMarshal.GetReference(a);
        ref float cr = ref MemoryMarshal.GetReference(c);
        ref float yr = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16)
                op.Apply(Vector512.LoadUnsafe(ref ar, (nuint)i), Vector512.LoadUnsafe(ref cr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
            if (i < n)
            {
                Span<float> b0 = stackalloc float[16], b1 = stackalloc float[16];
                b0.Clear(); b1.Clear(); a[i..n].CopyTo(b0); c[i..n].CopyTo(b1);
                op.Apply(Vector512.Create((ReadOnlySpan<float>)b0), Vector512.Create((ReadOnlySpan<float>)b1)).CopyTo(b0);
                b0[..(n - i)].CopyTo(y[i..]);
            }
        }
        else
        {
            for (; i <= n - 8; i += 8)
                op.Apply(Vector256.LoadUnsafe(ref ar, (nuint)i), Vector256.LoadUnsafe(ref cr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
            if (i < n)
            {
                Span<float> b0 = stackalloc float[8], b1 = stackalloc float[8];
                b0.Clear(); b1.Clear(); a[i..n].CopyTo(b0); c[i..n].CopyTo(b1);
                op.Apply(Vector256.Create((ReadOnlySpan<float>)b0), Vector256.Create((ReadOnlySpan<float>)b1)).CopyTo(b0);
                b0[..(n - i)].CopyTo(y[i..]);
            }
        }
    }

    public static void Map<T>(T op, ReadOnlySpan<float> a, ReadOnlySpan<float> c, ReadOnlySpan<float> d, Span<float> y) where T : struct, ITernaryOp
    {
        int n = y.Length, i = 0;
        ref float ar = ref MemoryMarshal.GetReference(a);
        ref float cr = ref MemoryMarshal.GetReference(c);
        ref float dr = ref MemoryMarshal.GetReference(d);
        ref float yr = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16)
                op.Apply(Vector512.LoadUnsafe(ref ar, (nuint)i), Vector512.LoadUnsafe(ref cr, (nuint)i), Vector512.LoadUnsafe(ref dr, (nuint)i))
                    .StoreUnsafe(ref yr, (nuint)i);
            if (i < n)
            {
                Span<float> b0 = stackalloc float[16], b1 = stackalloc float[16], b2 = stackalloc float[16];
                b0.Clear(); b1.Clear(); b2.Clear(); a[i..n].CopyTo(b0); c[i..n].CopyTo(b1); d[i..n].CopyTo(b2);
                op.Apply(Vector512.Create((ReadOnlySpan<float>)b0), Vector512.Create((ReadOnlySpan<float>)b1), Vector512.Create((ReadOnlySpan<float>)b2)).CopyTo(b0);
                b0[..(n - i)].CopyTo(y[i..]);
            }
        }
        else
        {
            for (; i <= n - 8; i += 8)
                op.Apply(Vector256.LoadUnsafe(ref ar, (nuint)i), Vector256.LoadUnsafe(ref cr, (nuint)i), Vector256.LoadUnsafe(ref dr, (nuint)i))
                    .StoreUnsafe(ref yr, (nuint)i);
            if (i < n)
            {
                Span<float> b0 = stackalloc float[8], b1 = stackalloc float[8], b2 = stackalloc float[8];
                b0.Clear(); b1.Clear(); b2.Clear(); a[i..n].CopyTo(b0); c[i..n].CopyTo(b1); d[i..n].CopyTo(b2);
                op.Apply(Vector256.Create((ReadOnlySpan<float>)b0), Vector256.Create((ReadOnlySpan<float>)b1), Vector256.Create((ReadOnlySpan<float>)b2)).CopyTo(b0);
                b0[..(n - i)].CopyTo(y[i..]);
            }
        }
    }

    /// <summary>Work units per block in <see cref="ForBlocks"/>: tens of microseconds, so a core that is
    /// descheduled on a busy machine holds up only a small block while the others take the rest.</summary>
    public const long BlockWork = 1 << 17;

    /// <summary>
    /// Runs body(start, end) over contiguous blocks of [0, n), on the calling thread when the work is small,
    /// else as several blocks per core handed out dynamically (unlike Par.ForRange's one block per core).
    /// </summary>
    public static void ForBlocks(int n, long workPerItem, Action<int, int> body)
    {
        if (n <= 0) return;
        long total = n * Math.Max(1, workPerItem);
        if (Par.Threads <= 1 || n == 1 || total < Par.MinParallelWork) { body(0, n); return; }
        int blocks = (int)Math.Min(n, Math.Max(Par.Threads, total / BlockWork));
        Par.For(blocks, total / blocks, k => body((int)((long)n * k / blocks), (int)((long)n * (k + 1) / blocks)));
    }

    /// <summary>Map over large spans split across cores (the work per element sizes the decision).</summary>
    public static unsafe void MapParallel<T>(T op, ReadOnlySpan<float> x, Span<float> y, int workPerElement) where T : struct, IUnaryOp
    {
        if (y.Length < 1 << 15) { Map(op, x, y); return; }
        fixed (float* px = x, py = y)
        {
            nint ix = (nint)px, iy = (nint)py;
            int n = y.Length;
            ForBlocks((n + 1023) / 1024, 1024L * workPerElement, (s, e) =>
            {
                int lo = s * 1024, hi = Math.Min(e * 1024, n);
                Map(op, new ReadOnlySpan<float>((float*)ix + lo, hi - lo), new Span<float>((float*)iy + lo, hi - lo));
            });
        }
    }

    public static unsafe void MapParallel<T>(T op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int workPerElement) where T : struct, IBinaryOp
    {
        if (y.Length < 1 << 15) { Map(op, a, b, y); return; }
        fixed (float* pa = a, pb = b, py = y)
        {
            nint ia = (nint)pa, ib = (nint)pb, iy = (nint)py;
            int n = y.Length;
            ForBlocks((n + 1023) / 1024, 1024L * workPerElement, (s, e) =>
            {
                int lo = s * 1024, hi = Math.Min(e * 1024, n);
                Map(op, new ReadOnlySpan<float>((float*)ia + lo, hi - lo), new ReadOnlySpan<float>((float*)ib + lo, hi - lo),
                    new Span<float>((float*)iy + lo, hi - lo));
            });
        }
    }
}

/// <summary>Vector math: exp (Cephes expf, ≈1 ulp on the clamped range), sigmoid, erf-based normal CDF.</summary>
public static class VMath
{
    private const float ExpHi = 88.3762626647949f, ExpLo = -87.3365447504f; // finite, normal results
    private const float Log2E = 1.44269504088896341f, C1 = 0.693359375f, C2 = -2.12194440e-4f;
    private const float P0 = 1.9875691500E-4f, P1 = 1.3981999507E-3f, P2 = 8.3334519073E-3f,
        P3 = 4.1665795894E-2f, P4 = 1.6666665459E-1f, P5 = 5.0000001201E-1f;

    /// <summary>e^x with x clamped to [-87.34, 88.38] (so results stay finite and normal; NaN is not preserved).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(ExpLo)), Vector512.Create(ExpHi));
        var n = Vector512.Floor(Vector512.FusedMultiplyAdd(x, Vector512.Create(Log2E), Vector512.Create(0.5f)));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-C1), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-C2), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(P0), r, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P5));
        p = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One);
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32Native(n) + Vector512.Create(127), 23).AsSingle();
        return p * scale;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        x = Vector256.MinNative(Vector256.MaxNative(x, Vector256.Create(ExpLo)), Vector256.Create(ExpHi));
        var n = Vector256.Floor(Vector256.FusedMultiplyAdd(x, Vector256.Create(Log2E), Vector256.Create(0.5f)));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-C1), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-C2), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P5));
        p = Vector256.FusedMultiplyAdd(p, r * r, r + Vector256<float>.One);
        var scale = Vector256.ShiftLeft(Vector256.ConvertToInt32Native(n) + Vector256.Create(127), 23).AsSingle();
        return p * scale;
    }

    /// <summary>tanh (Cephes tanhf: odd polynomial below 0.625, 1 − 2/(e^{2|x|} + 1) above; relative error ≈ 1e-7).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x)
    {
        var ax = Vector512.Abs(x);
        var big = Vector512<float>.One - Vector512.Create(2f) / (Exp(ax + ax) + Vector512<float>.One);
        big = Vector512.CopySign(big, x);
        var z = x * x;
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(-5.70498872745E-3f), z, Vector512.Create(2.06390887954E-2f));
        p = Vector512.FusedMultiplyAdd(p, z, Vector512.Create(-5.37397155531E-2f));
        p = Vector512.FusedMultiplyAdd(p, z, Vector512.Create(1.33314422036E-1f));
        p = Vector512.FusedMultiplyAdd(p, z, Vector512.Create(-3.33332819422E-1f));
        var small = Vector512.FusedMultiplyAdd(p * z, x, x);
        return Vector512.ConditionalSelect(Vector512.GreaterThan(ax, Vector512.Create(0.625f)), big, small);
    }

    /// <summary>tanh (Cephes tanhf: odd polynomial below 0.625, 1 − 2/(e^{2|x|} + 1) above; relative error ≈ 1e-7).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var ax = Vector256.Abs(x);
        var big = Vector256<float>.One - Vector256.Create(2f) / (Exp(ax + ax) + Vector256<float>.One);
        big = Vector256.CopySign(big, x);
        var z = x * x;
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(-5.70498872745E-3f), z, Vector256.Create(2.06390887954E-2f));
        p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(-5.37397155531E-2f));
        p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(1.33314422036E-1f));
        p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(-3.33332819422E-1f));
        var small = Vector256.FusedMultiplyAdd(p * z, x, x);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(ax, Vector256.Create(0.625f)), big, small);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Exp(-x));

    // Normal CDF Φ(x) = ½(1 + erf(x/√2)) with z = x/√2:
    //   |z| ≤ 1: erf(z) = z·A(2z² − 1)                       (A: degree 6, relative error < 1e-8)
    //   |z| > 1: erfc(|z|) = e^{−z²}·B((1/|z| − 7/12)·12/5)  (B: degree 10 on 1 ≤ |z| ≤ 6, relative error < 1e-7)
    // The second form keeps Φ accurate in relative terms far into the negative tail. Coefficients are
    // least-squares fits to math.erf/erfc (tools/parity/fit_erf.py).
    private const float A0 = 1.226134247e-06f, A1 = -1.766878620e-05f, A2 = 2.175202360e-04f, A3 = -2.285419897e-03f, A4 = 1.985249464e-02f, A5 = -1.405360972e-01f, A6 = 9.654687388e-01f;
    private const float B0 = -7.932020234e-06f, B1 = 1.714322393e-05f, B2 = -2.117941958e-06f, B3 = -6.109288850e-05f, B4 = 2.642091178e-04f, B5 = -7.359771475e-04f,
        B6 = 1.034902686e-03f, B7 = 2.820719387e-03f, B8 = -3.083110862e-02f, B9 = 1.653627099e-01f, B10 = 2.897221175e-01f;
    private const float BCenter = 7f / 12f, BScale = 12f / 5f, InvSqrt2 = 0.70710678118654752f;

    /// <summary>Φ(x) and, through <paramref name="gauss"/>, e^{−x²/2} (for the GELU derivative).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> NormalCdf(Vector512<float> x, out Vector512<float> gauss)
    {
        var z = x * Vector512.Create(InvSqrt2);
        var z2 = z * z;
        var az = Vector512.Abs(z);
        // e^(−x²/2) with x² split exactly into hi + lo, so the exponent carries no rounding error
        var hi = x * x;
        var lo = Vector512.FusedMultiplyAdd(x, x, -hi);
        gauss = Exp(hi * Vector512.Create(-0.5f)) * Vector512.FusedMultiplyAdd(lo, Vector512.Create(-0.5f), Vector512<float>.One);
        // small |z|
        var s = Vector512.FusedMultiplyAdd(z2, Vector512.Create(2f), Vector512.Create(-1f));
        var a = Vector512.FusedMultiplyAdd(Vector512.Create(A0), s, Vector512.Create(A1));
        a = Vector512.FusedMultiplyAdd(a, s, Vector512.Create(A2));
        a = Vector512.FusedMultiplyAdd(a, s, Vector512.Create(A3));
        a = Vector512.FusedMultiplyAdd(a, s, Vector512.Create(A4));
        a = Vector512.FusedMultiplyAdd(a, s, Vector512.Create(A5));
        a = Vector512.FusedMultiplyAdd(a, s, Vector512.Create(A6));
        var small = Vector512.FusedMultiplyAdd(z * a, Vector512.Create(0.5f), Vector512.Create(0.5f));
        // large |z|: tail = ½·erfc(|z|)
        var t = Vector512.Max(Vector512<float>.One / Vector512.Max(az, Vector512<float>.One), Vector512.Create(1f / 6f));
        var u = (t - Vector512.Create(BCenter)) * Vector512.Create(BScale);
        var b = Vector512.FusedMultiplyAdd(Vector512.Create(B0), u, Vector512.Create(B1));
        b = Vector512.FusedMultiplyAdd(b, u, Vector512.Create(B2));
        b = Vector512.FusedMultiplyAdd(b, u, Vector512.Create(B3));
        b = Vector512.FusedMultiplyAdd(b, u, Vector512.Create(B4));
        b = Vector512.FusedMultiplyAdd(b, u, Vector512.Create(B5));
        b = Vector512.FusedMultiplyAdd(b, u, Vector512.Create(B6));
        b = Vector512.FusedMultiplyAdd(b, u, Vector512.Create(B7));
        b = Vector512.FusedMultiplyAdd(b, u, Vector512.Create(B8));
        b = Vector512.FusedMultiplyAdd(b, u, Vector512.Create(B9));
        b = Vector512.FusedMultiplyAdd(b, u, Vector512.Create(B10));
        var tail = gauss * b * Vector512.Create(0.5f);
        var large = Vector512.ConditionalSelect(Vector512.LessThan(z, Vector512<float>.Zero), tail, Vector512<float>.One - tail);
        return Vector512.ConditionalSelect(Vector512.LessThanOrEqual(az, Vector512<float>.One), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> NormalCdf(Vector256<float> x, out Vector256<float> gauss)
    {
        var z = x * Vector256.Create(InvSqrt2);
        var z2 = z * z;
        var az = Vector256.Abs(z);
        // e^(−x²/2) with x² split exactly into hi + lo, so the exponent carries no rounding error
        var hi = x * x;
        var lo = Vector256.FusedMultiplyAdd(x, x, -hi);
        gauss = Exp(hi * Vector256.Create(-0.5f)) * Vector256.FusedMultiplyAdd(lo, Vector256.Create(-0.5f), Vector256<float>.One);
        var s = Vector256.FusedMultiplyAdd(z2, Vector256.Create(2f), Vector256.Create(-1f));
        var a = Vector256.FusedMultiplyAdd(Vector256.Create(A0), s, Vector256.Create(A1));
        a = Vector256.FusedMultiplyAdd(a, s, Vector256.Create(A2));
        a = Vector256.FusedMultiplyAdd(a, s, Vector256.Create(A3));
        a = Vector256.FusedMultiplyAdd(a, s, Vector256.Create(A4));
        a = Vector256.FusedMultiplyAdd(a, s, Vector256.Create(A5));
        a = Vector256.FusedMultiplyAdd(a, s, Vector256.Create(A6));
        var small = Vector256.FusedMultiplyAdd(z * a, Vector256.Create(0.5f), Vector256.Create(0.5f));
        var t = Vector256.Max(Vector256<float>.One / Vector256.Max(az, Vector256<float>.One), Vector256.Create(1f / 6f));
        var u = (t - Vector256.Create(BCenter)) * Vector256.Create(BScale);
        var b = Vector256.FusedMultiplyAdd(Vector256.Create(B0), u, Vector256.Create(B1));
        b = Vector256.FusedMultiplyAdd(b, u, Vector256.Create(B2));
        b = Vector256.FusedMultiplyAdd(b, u, Vector256.Create(B3));
        b = Vector256.FusedMultiplyAdd(b, u, Vector256.Create(B4));
        b = Vector256.FusedMultiplyAdd(b, u, Vector256.Create(B5));
        b = Vector256.FusedMultiplyAdd(b, u, Vector256.Create(B6));
        b = Vector256.FusedMultiplyAdd(b, u, Vector256.Create(B7));
        b = Vector256.FusedMultiplyAdd(b, u, Vector256.Create(B8));
        b = Vector256.FusedMultiplyAdd(b, u, Vector256.Create(B9));
        b = Vector256.FusedMultiplyAdd(b, u, Vector256.Create(B10));
        var tail = gauss * b * Vector256.Create(0.5f);
        var large = Vector256.ConditionalSelect(Vector256.LessThan(z, Vector256<float>.Zero), tail, Vector256<float>.One - tail);
        return Vector256.ConditionalSelect(Vector256.LessThanOrEqual(az, Vector256<float>.One), small, large);
    }
}
