using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// A double SIMD vector of the same width as the float vector <typeparamref name="V"/>, for the statistics passes:
/// they widen float lanes to double and accumulate there, so sums over long rows lose nothing to float rounding
/// (a kernel takes both as type parameters, e.g. <c>Moments&lt;V512, D512&gt;</c>). Only what those passes need.
/// </summary>
public interface IVecF64<TSelf, V> where TSelf : unmanaged, IVecF64<TSelf, V> where V : unmanaged, IVec<V>
{
    static abstract TSelf Zero { get; }
    /// <summary>The lower and upper halves of x's lanes, as doubles.</summary>
    static abstract (TSelf Lower, TSelf Upper) Widen(V x);
    static abstract TSelf operator +(TSelf a, TSelf b);
    /// <summary>a·b + c, fused where the CPU has FMA (see <see cref="IVec{TSelf}.MultiplyAddEstimate"/>).</summary>
    static abstract TSelf MultiplyAddEstimate(TSelf a, TSelf b, TSelf c);
    static abstract double Sum(TSelf a);
}

public readonly struct D512 : IVecF64<D512, V512>
{
    public readonly Vector512<double> V;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public D512(Vector512<double> v) => V = v;
    public static D512 Zero { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => new(Vector512<double>.Zero); }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (D512 Lower, D512 Upper) Widen(V512 x) { var (l, u) = Vector512.Widen(x.V); return (new(l), new(u)); }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static D512 operator +(D512 a, D512 b) => new(a.V + b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static D512 MultiplyAddEstimate(D512 a, D512 b, D512 c) => new(Vector512.MultiplyAddEstimate(a.V, b.V, c.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Sum(D512 a) => Vector512.Sum(a.V);
}

public readonly struct D256 : IVecF64<D256, V256>
{
    public readonly Vector256<double> V;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public D256(Vector256<double> v) => V = v;
    public static D256 Zero { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => new(Vector256<double>.Zero); }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (D256 Lower, D256 Upper) Widen(V256 x) { var (l, u) = Vector256.Widen(x.V); return (new(l), new(u)); }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static D256 operator +(D256 a, D256 b) => new(a.V + b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static D256 MultiplyAddEstimate(D256 a, D256 b, D256 c) => new(Vector256.MultiplyAddEstimate(a.V, b.V, c.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Sum(D256 a) => Vector256.Sum(a.V);
}

public readonly struct D128 : IVecF64<D128, V128>
{
    public readonly Vector128<double> V;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public D128(Vector128<double> v) => V = v;
    public static D128 Zero { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => new(Vector128<double>.Zero); }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (D128 Lower, D128 Upper) Widen(V128 x) { var (l, u) = Vector128.Widen(x.V); return (new(l), new(u)); }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static D128 operator +(D128 a, D128 b) => new(a.V + b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static D128 MultiplyAddEstimate(D128 a, D128 b, D128 c) => new(Vector128.MultiplyAddEstimate(a.V, b.V, c.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Sum(D128 a) => Vector128.Sum(a.V);
}
