using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// A float SIMD vector of one width, as a type parameter: kernels are written once as
/// <c>Kernel&lt;V&gt;(…) where V : unmanaged, IVec&lt;V&gt;</c> and instantiated for <see cref="V512"/>,
/// <see cref="V256"/> and <see cref="V128"/>. Each implementation wraps one Vector512/256/128 field and
/// forwards to its cross-platform API with aggressive inlining, so the JIT compiles each instantiation
/// to the same machine code as a hand-written copy (AVX-512, AVX2 + FMA, or SSE / ARM64 AdvSimd).
/// Masks are float vectors with all bits set where true (what the compare operations return).
/// A width that the CPU does not accelerate still computes correctly (the runtime emulates it, slowly),
/// so the tests run every width on every machine.
/// </summary>
public unsafe interface IVec<TSelf> where TSelf : unmanaged, IVec<TSelf>
{
    /// <summary>Floats per vector.</summary>
    static abstract int Count { get; }
    static abstract bool IsHardwareAccelerated { get; }
    static abstract TSelf Zero { get; }
    static abstract TSelf One { get; }
    /// <summary>0, 1, 2, … as floats (exact: at most 16 lanes).</summary>
    static abstract TSelf Indices { get; }
    static abstract TSelf Create(float x);
    static abstract TSelf Load(float* p);
    static abstract TSelf LoadUnsafe(ref float p, nuint i);
    void Store(float* p);
    void StoreUnsafe(ref float p, nuint i);

    static abstract TSelf operator +(TSelf a, TSelf b);
    static abstract TSelf operator -(TSelf a, TSelf b);
    static abstract TSelf operator *(TSelf a, TSelf b);
    static abstract TSelf operator /(TSelf a, TSelf b);
    static abstract TSelf operator -(TSelf a);
    static abstract TSelf operator &(TSelf a, TSelf b);

    /// <summary>a·b + c with one rounding where the CPU has FMA (AVX2-class x86 and every ARM64); on an x86 without
    /// it (SSE only) a multiply and an add, two roundings: the exact software emulation costs ~50× (a call per lane).</summary>
    static abstract TSelf Fma(TSelf a, TSelf b, TSelf c);
    /// <summary>a·b + c, fused where the CPU has FMA, else a multiply then an add. For kernels that do not need the
    /// single rounding: an x64 CPU without AVX has no FMA, and there <see cref="Fma"/> runs in software, ~20× slower.</summary>
    static abstract TSelf MultiplyAddEstimate(TSelf a, TSelf b, TSelf c);
    /// <summary>acc = a·b + acc with one rounding, in place. For accumulators in register tiles: written through the
    /// ref, the JIT updates acc's register (the 231 form), where <see cref="Fma"/>'s returned copy costs a register move
    /// each time a multiplicand dies in the call.</summary>
    static abstract void FmaTo(ref TSelf acc, TSelf a, TSelf b);
    static abstract TSelf Min(TSelf a, TSelf b);
    static abstract TSelf Max(TSelf a, TSelf b);
    /// <summary>Min/max as the hardware does them (NaN and ±0 handling unspecified; one instruction).</summary>
    static abstract TSelf MinNative(TSelf a, TSelf b);
    static abstract TSelf MaxNative(TSelf a, TSelf b);
    static abstract TSelf Abs(TSelf a);
    static abstract TSelf Sqrt(TSelf a);
    static abstract TSelf Floor(TSelf a);
    static abstract TSelf CopySign(TSelf value, TSelf sign);

    static abstract TSelf LessThan(TSelf a, TSelf b);
    static abstract TSelf LessThanOrEqual(TSelf a, TSelf b);
    static abstract TSelf GreaterThan(TSelf a, TSelf b);
    /// <summary>mask ? a : b, lane by lane.</summary>
    static abstract TSelf Select(TSelf mask, TSelf a, TSelf b);

    /// <summary>2^k for lanes holding t = k + 1.5·2²³ (an integer k added to the rounding constant), k in [−126, 127].</summary>
    static abstract TSelf Pow2FromRounded(TSelf t);
    /// <summary>2^n for lanes holding integral floats n in [−126, 127] (rounded to the nearest integer).</summary>
    static abstract TSelf Pow2(TSelf n);

    /// <summary>Swaps each even lane with the odd lane after it: (a₁, a₀, a₃, a₂, …) (rotary embedding's pairs).</summary>
    static abstract TSelf SwapPairs(TSelf a);

    static abstract float Sum(TSelf a);
    static abstract float MaxAcross(TSelf a);
}

/// <summary>The SIMD width the kernels run at; tests switch it in-process to check every path on every machine.</summary>
public static class SimdPath
{
    /// <summary>The widest width this CPU accelerates: 512, 256 or 128 bits, or 0 (scalar reference only).</summary>
    public static readonly int Native = Vector512.IsHardwareAccelerated ? 512
        : Vector256.IsHardwareAccelerated ? 256 : Vector128.IsHardwareAccelerated ? 128 : 0;

    /// <summary>The width the kernels use: 512, 256, 128, or 0 for the scalar reference. Process-wide.</summary>
    public static int Bits { get; private set; } = FromEnvironment();

    /// <summary>Selects a width for the whole process (tests; <c>CRT_SIMD=512|256|128|0</c> sets it at start-up).
    /// A width the CPU does not accelerate still computes correctly, emulated by the runtime.</summary>
    public static void Set(int bits)
    {
        if (bits is not (0 or 128 or 256 or 512)) throw new ArgumentException($"SIMD width {bits}: use 512, 256, 128 or 0 (scalar)");
        Bits = bits;
    }

    /// <summary>Restores the CPU's own width.</summary>
    public static void Reset() => Bits = FromEnvironment();

    private static int FromEnvironment()
    {
        var s = Environment.GetEnvironmentVariable("CRT_SIMD");
        return s is not null && int.TryParse(s, out int b) && b is 0 or 128 or 256 or 512 ? b : Native;
    }

    public static string Describe(int bits) => bits switch
    {
        512 => "512-bit (AVX-512)", 256 => "256-bit (AVX2 + FMA)",
        128 => System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64
            ? "128-bit (ARM64 AdvSimd)" : "128-bit (SSE)",
        _ => "scalar",
    };
}

public readonly unsafe struct V512 : IVec<V512>
{
    public readonly Vector512<float> V;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public V512(Vector512<float> v) => V = v;

    public static int Count => 16;
    public static bool IsHardwareAccelerated => Vector512.IsHardwareAccelerated;
    public static V512 Zero { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => new(Vector512<float>.Zero); }
    public static V512 One { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => new(Vector512<float>.One); }
    public static V512 Indices { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => new(Vector512<float>.Indices); }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Create(float x) => new(Vector512.Create(x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Load(float* p) => new(Vector512.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 LoadUnsafe(ref float p, nuint i) => new(Vector512.LoadUnsafe(ref p, i));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Store(float* p) => V.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void StoreUnsafe(ref float p, nuint i) => V.StoreUnsafe(ref p, i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 operator +(V512 a, V512 b) => new(a.V + b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 operator -(V512 a, V512 b) => new(a.V - b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 operator *(V512 a, V512 b) => new(a.V * b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 operator /(V512 a, V512 b) => new(a.V / b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 operator -(V512 a) => new(-a.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 operator &(V512 a, V512 b) => new(a.V & b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Fma(V512 a, V512 b, V512 c) => new(Vector512.FusedMultiplyAdd(a.V, b.V, c.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 MultiplyAddEstimate(V512 a, V512 b, V512 c) => new(Vector512.MultiplyAddEstimate(a.V, b.V, c.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FmaTo(ref V512 acc, V512 a, V512 b) => Unsafe.AsRef(in acc.V) = Vector512.FusedMultiplyAdd(a.V, b.V, acc.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Min(V512 a, V512 b) => new(Vector512.Min(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Max(V512 a, V512 b) => new(Vector512.Max(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 MinNative(V512 a, V512 b) => new(Vector512.MinNative(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 MaxNative(V512 a, V512 b) => new(Vector512.MaxNative(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Abs(V512 a) => new(Vector512.Abs(a.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Sqrt(V512 a) => new(Vector512.Sqrt(a.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Floor(V512 a) => new(Vector512.Floor(a.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 CopySign(V512 v, V512 s) => new(Vector512.CopySign(v.V, s.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 LessThan(V512 a, V512 b) => new(Vector512.LessThan(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 LessThanOrEqual(V512 a, V512 b) => new(Vector512.LessThanOrEqual(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 GreaterThan(V512 a, V512 b) => new(Vector512.GreaterThan(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Select(V512 m, V512 a, V512 b) => new(Vector512.ConditionalSelect(m.V, a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Pow2FromRounded(V512 t)
        => new(Vector512.ShiftLeft(t.V.AsInt32() - Vector512.Create(0x4B400000 - 127), 23).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Pow2(V512 n) => new(Vector512.ShiftLeft(Vector512.ConvertToInt32Native(n.V) + Vector512.Create(127), 23).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 SwapPairs(V512 a) => new(Vector512.Shuffle(a.V, Vector512.Create(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(V512 a) => Vector512.Sum(a.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(V512 a)
    {
        var h = Vector256.Max(a.V.GetLower(), a.V.GetUpper());
        var q = Vector128.Max(h.GetLower(), h.GetUpper());
        return MathF.Max(MathF.Max(q[0], q[1]), MathF.Max(q[2], q[3]));
    }
}

public readonly unsafe struct V256 : IVec<V256>
{
    public readonly Vector256<float> V;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public V256(Vector256<float> v) => V = v;

    public static int Count => 8;
    public static bool IsHardwareAccelerated => Vector256.IsHardwareAccelerated;
    public static V256 Zero { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => new(Vector256<float>.Zero); }
    public static V256 One { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => new(Vector256<float>.One); }
    public static V256 Indices { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => new(Vector256<float>.Indices); }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Create(float x) => new(Vector256.Create(x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Load(float* p) => new(Vector256.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 LoadUnsafe(ref float p, nuint i) => new(Vector256.LoadUnsafe(ref p, i));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Store(float* p) => V.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void StoreUnsafe(ref float p, nuint i) => V.StoreUnsafe(ref p, i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 operator +(V256 a, V256 b) => new(a.V + b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 operator -(V256 a, V256 b) => new(a.V - b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 operator *(V256 a, V256 b) => new(a.V * b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 operator /(V256 a, V256 b) => new(a.V / b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 operator -(V256 a) => new(-a.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 operator &(V256 a, V256 b) => new(a.V & b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 MultiplyAddEstimate(V256 a, V256 b, V256 c) => new(Vector256.MultiplyAddEstimate(a.V, b.V, c.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Fma(V256 a, V256 b, V256 c) => new(HasFma ? Vector256.FusedMultiplyAdd(a.V, b.V, c.V) : a.V * b.V + c.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FmaTo(ref V256 acc, V256 a, V256 b)
        => Unsafe.AsRef(in acc.V) = HasFma ? Vector256.FusedMultiplyAdd(a.V, b.V, acc.V) : a.V * b.V + acc.V;
    /// <summary>FMA in hardware (a JIT-time constant).</summary>
    private static bool HasFma => System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Min(V256 a, V256 b) => new(Vector256.Min(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Max(V256 a, V256 b) => new(Vector256.Max(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 MinNative(V256 a, V256 b) => new(Vector256.MinNative(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 MaxNative(V256 a, V256 b) => new(Vector256.MaxNative(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Abs(V256 a) => new(Vector256.Abs(a.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Sqrt(V256 a) => new(Vector256.Sqrt(a.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Floor(V256 a) => new(Vector256.Floor(a.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 CopySign(V256 v, V256 s) => new(Vector256.CopySign(v.V, s.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 LessThan(V256 a, V256 b) => new(Vector256.LessThan(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 LessThanOrEqual(V256 a, V256 b) => new(Vector256.LessThanOrEqual(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 GreaterThan(V256 a, V256 b) => new(Vector256.GreaterThan(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Select(V256 m, V256 a, V256 b) => new(Vector256.ConditionalSelect(m.V, a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Pow2FromRounded(V256 t)
        => new(Vector256.ShiftLeft(t.V.AsInt32() - Vector256.Create(0x4B400000 - 127), 23).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Pow2(V256 n) => new(Vector256.ShiftLeft(Vector256.ConvertToInt32Native(n.V) + Vector256.Create(127), 23).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 SwapPairs(V256 a) => new(Vector256.Shuffle(a.V, Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(V256 a) => Vector256.Sum(a.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(V256 a)
    {
        var q = Vector128.Max(a.V.GetLower(), a.V.GetUpper());
        return MathF.Max(MathF.Max(q[0], q[1]), MathF.Max(q[2], q[3]));
    }
}

public readonly unsafe struct V128 : IVec<V128>
{
    public readonly Vector128<float> V;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public V128(Vector128<float> v) => V = v;

    public static int Count => 4;
    public static bool IsHardwareAccelerated => Vector128.IsHardwareAccelerated;
    public static V128 Zero { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => new(Vector128<float>.Zero); }
    public static V128 One { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => new(Vector128<float>.One); }
    public static V128 Indices { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => new(Vector128<float>.Indices); }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Create(float x) => new(Vector128.Create(x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Load(float* p) => new(Vector128.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 LoadUnsafe(ref float p, nuint i) => new(Vector128.LoadUnsafe(ref p, i));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Store(float* p) => V.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void StoreUnsafe(ref float p, nuint i) => V.StoreUnsafe(ref p, i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 operator +(V128 a, V128 b) => new(a.V + b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 operator -(V128 a, V128 b) => new(a.V - b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 operator *(V128 a, V128 b) => new(a.V * b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 operator /(V128 a, V128 b) => new(a.V / b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 operator -(V128 a) => new(-a.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 operator &(V128 a, V128 b) => new(a.V & b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 MultiplyAddEstimate(V128 a, V128 b, V128 c) => new(Vector128.MultiplyAddEstimate(a.V, b.V, c.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 Fma(V128 a, V128 b, V128 c) => new(HasFma ? Vector128.FusedMultiplyAdd(a.V, b.V, c.V) : a.V * b.V + c.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FmaTo(ref V128 acc, V128 a, V128 b)
        => Unsafe.AsRef(in acc.V) = HasFma ? Vector128.FusedMultiplyAdd(a.V, b.V, acc.V) : a.V * b.V + acc.V;
    /// <summary>FMA in hardware (a JIT-time constant).</summary>
    private static bool HasFma => System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Min(V128 a, V128 b) => new(Vector128.Min(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Max(V128 a, V128 b) => new(Vector128.Max(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 MinNative(V128 a, V128 b) => new(Vector128.MinNative(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 MaxNative(V128 a, V128 b) => new(Vector128.MaxNative(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Abs(V128 a) => new(Vector128.Abs(a.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Sqrt(V128 a) => new(Vector128.Sqrt(a.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Floor(V128 a) => new(Vector128.Floor(a.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 CopySign(V128 v, V128 s) => new(Vector128.CopySign(v.V, s.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 LessThan(V128 a, V128 b) => new(Vector128.LessThan(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 LessThanOrEqual(V128 a, V128 b) => new(Vector128.LessThanOrEqual(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 GreaterThan(V128 a, V128 b) => new(Vector128.GreaterThan(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Select(V128 m, V128 a, V128 b) => new(Vector128.ConditionalSelect(m.V, a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 Pow2FromRounded(V128 t)
        => new(Vector128.ShiftLeft(t.V.AsInt32() - Vector128.Create(0x4B400000 - 127), 23).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 Pow2(V128 n) => new(Vector128.ShiftLeft(Vector128.ConvertToInt32Native(n.V) + Vector128.Create(127), 23).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 SwapPairs(V128 a) => new(Vector128.Shuffle(a.V, Vector128.Create(1, 0, 3, 2)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(V128 a) => Vector128.Sum(a.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(V128 a) => MathF.Max(MathF.Max(a.V[0], a.V[1]), MathF.Max(a.V[2], a.V[3]));
}
