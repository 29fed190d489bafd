using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Crt.Tensors.Kernels.Cpu;

// Pointwise ops are structs (instances, so they can carry parameters) with two forms of one function: a vector
// form at any width, and a scalar form that is the reference (SimdPath.Bits = 0). Both must compute the same
// function; the tests hold each width to the scalar form.

/// <summary>A pointwise function of one vector.</summary>
public interface IUnaryOp
{
    float Apply(float x);
    V Apply<V>(V x) where V : unmanaged, IVec<V>;
}

/// <summary>A pointwise function of two vectors.</summary>
public interface IBinaryOp
{
    float Apply(float a, float b);
    V Apply<V>(V a, V b) where V : unmanaged, IVec<V>;
}

/// <summary>A pointwise function of three vectors.</summary>
public interface ITernaryOp
{
    float Apply(float a, float b, float c);
    V Apply<V>(V a, V b, V c) where V : unmanaged, IVec<V>;
}

/// <summary>
/// Drivers that run a pointwise op struct over spans at the width <see cref="SimdPath.Bits"/> selects (the op's
/// scalar form at 0). The tail (fewer elements than a vector) goes through zero-padded vectors, so every element
/// is computed by the same code. Outputs may alias inputs (each element is read before it is written).
/// </summary>
public static class Simd
{
    /// <summary>The widest vector, in floats (a tail buffer of this size fits every width).</summary>
    private const int MaxLanes = 16;

    public static void Map<T>(T op, ReadOnlySpan<float> x, Span<float> y) where T : struct, IUnaryOp
    {
        switch (SimdPath.Bits)
        {
            case 512: Map<T, V512>(op, x, y); break;
            case 256: Map<T, V256>(op, x, y); break;
            case 128: Map<T, V128>(op, x, y); break;
            default: for (int i = 0; i < y.Length; i++) y[i] = op.Apply(x[i]); break;
        }
    }

    public static void Map<T>(T op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) where T : struct, IBinaryOp
    {
        switch (SimdPath.Bits)
        {
            case 512: Map<T, V512>(op, a, b, y); break;
            case 256: Map<T, V256>(op, a, b, y); break;
            case 128: Map<T, V128>(op, a, b, y); break;
            default: for (int i = 0; i < y.Length; i++) y[i] = op.Apply(a[i], b[i]); break;
        }
    }

    public static void Map<T>(T op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, Span<float> y) where T : struct, ITernaryOp
    {
        switch (SimdPath.Bits)
        {
            case 512: Map<T, V512>(op, a, b, c, y); break;
            case 256: Map<T, V256>(op, a, b, c, y); break;
            case 128: Map<T, V128>(op, a, b, c, y); break;
            default: for (int i = 0; i < y.Length; i++) y[i] = op.Apply(a[i], b[i], c[i]); break;
        }
    }

    /// <summary>y += op(a, b).</summary>
    public static void MapAccumulate<T>(T op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) where T : struct, IBinaryOp
        => Map(new Accumulate2<T>(op), a, b, y, y);

    /// <summary>y += op(a, b, c).</summary>
    public static void MapAccumulate<T>(T op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, Span<float> y) where T : struct, ITernaryOp
    {
        switch (SimdPath.Bits)
        {
            case 512: MapAccumulate<T, V512>(op, a, b, c, y); break;
            case 256: MapAccumulate<T, V256>(op, a, b, c, y); break;
            case 128: MapAccumulate<T, V128>(op, a, b, c, y); break;
            default: for (int i = 0; i < y.Length; i++) y[i] += op.Apply(a[i], b[i], c[i]); break;
        }
    }

    // Each driver: a loop over whole vectors, then the tail (fewer elements than a vector) copied into zero-padded
    // buffers, run through the same loop, and copied back. The tail's stackalloc lives in its own method: a method
    // with a loop and a stackalloc cannot tier up through on-stack replacement, so the JIT compiles it once without
    // profile data (the loop's method measured ~5% slower on groupnorm-swish that way).

    private static void Map<T, V>(T op, ReadOnlySpan<float> x, Span<float> y) where T : struct, IUnaryOp where V : unmanaged, IVec<V>
    {
        int i = Vectors<T, V>(op, x, y);
        if (i < y.Length) Tail<T, V>(op, x[i..y.Length], y[i..]);
    }

    private static int Vectors<T, V>(T op, ReadOnlySpan<float> x, Span<float> y) where T : struct, IUnaryOp where V : unmanaged, IVec<V>
    {
        int n = y.Length, i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        for (; i <= n - V.Count; i += V.Count)
            op.Apply(V.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        return i;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Tail<T, V>(T op, ReadOnlySpan<float> x, Span<float> y) where T : struct, IUnaryOp where V : unmanaged, IVec<V>
    {
        Span<float> px = stackalloc float[MaxLanes], py = stackalloc float[MaxLanes];
        Vectors<T, V>(op, Padded<V>(x, px), py[..V.Count]);
        py[..y.Length].CopyTo(y);
    }

    private static void Map<T, V>(T op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) where T : struct, IBinaryOp where V : unmanaged, IVec<V>
    {
        int i = Vectors<T, V>(op, a, b, y);
        if (i < y.Length) Tail<T, V>(op, a[i..y.Length], b[i..y.Length], y[i..]);
    }

    private static int Vectors<T, V>(T op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) where T : struct, IBinaryOp where V : unmanaged, IVec<V>
    {
        int n = y.Length, i = 0;
        ref float ar = ref MemoryMarshal.GetReference(a);
        ref float br = ref MemoryMarshal.GetReference(b);
        ref float yr = ref MemoryMarshal.GetReference(y);
        for (; i <= n - V.Count; i += V.Count)
            op.Apply(V.LoadUnsafe(ref ar, (nuint)i), V.LoadUnsafe(ref br, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        return i;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Tail<T, V>(T op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) where T : struct, IBinaryOp where V : unmanaged, IVec<V>
    {
        Span<float> pa = stackalloc float[MaxLanes], pb = stackalloc float[MaxLanes], py = stackalloc float[MaxLanes];
        Vectors<T, V>(op, Padded<V>(a, pa), Padded<V>(b, pb), py[..V.Count]);
        py[..y.Length].CopyTo(y);
    }

    private static void Map<T, V>(T op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, Span<float> y)
        where T : struct, ITernaryOp where V : unmanaged, IVec<V>
    {
        int i = Vectors<T, V>(op, a, b, c, y, accumulate: false);
        if (i < y.Length) Tail<T, V>(op, a[i..y.Length], b[i..y.Length], c[i..y.Length], y[i..], accumulate: false);
    }

    private static void MapAccumulate<T, V>(T op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, Span<float> y)
        where T : struct, ITernaryOp where V : unmanaged, IVec<V>
    {
        int i = Vectors<T, V>(op, a, b, c, y, accumulate: true);
        if (i < y.Length) Tail<T, V>(op, a[i..y.Length], b[i..y.Length], c[i..y.Length], y[i..], accumulate: true);
    }

    /// <summary>y = op(a, b, c), or with <paramref name="accumulate"/> y += op(a, b, c) (a constant at each call site).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Vectors<T, V>(T op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, Span<float> y, bool accumulate)
        where T : struct, ITernaryOp where V : unmanaged, IVec<V>
    {
        int n = y.Length, i = 0;
        ref float ar = ref MemoryMarshal.GetReference(a);
        ref float br = ref MemoryMarshal.GetReference(b);
        ref float cr = ref MemoryMarshal.GetReference(c);
        ref float yr = ref MemoryMarshal.GetReference(y);
        for (; i <= n - V.Count; i += V.Count)
        {
            var r = op.Apply(V.LoadUnsafe(ref ar, (nuint)i), V.LoadUnsafe(ref br, (nuint)i), V.LoadUnsafe(ref cr, (nuint)i));
            if (accumulate) r = V.LoadUnsafe(ref yr, (nuint)i) + r;
            r.StoreUnsafe(ref yr, (nuint)i);
        }
        return i;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Tail<T, V>(T op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, Span<float> y, bool accumulate)
        where T : struct, ITernaryOp where V : unmanaged, IVec<V>
    {
        Span<float> pa = stackalloc float[MaxLanes], pb = stackalloc float[MaxLanes], pc = stackalloc float[MaxLanes], py = stackalloc float[MaxLanes];
        py = py[..V.Count];
        if (accumulate) Padded<V>(y, py);
        Vectors<T, V>(op, Padded<V>(a, pa), Padded<V>(b, pb), Padded<V>(c, pc), py, accumulate);
        py[..y.Length].CopyTo(y);
    }

    /// <summary><paramref name="src"/> (fewer elements than a vector) at the start of one vector's worth of
    /// <paramref name="buffer"/>, zeros after it.</summary>
    private static Span<float> Padded<V>(ReadOnlySpan<float> src, Span<float> buffer) where V : unmanaged, IVec<V>
    {
        var b = buffer[..V.Count];
        b.Clear();
        src.CopyTo(b);
        return b;
    }

    /// <summary>op(a, b) + acc over (a, b, acc).</summary>
    private readonly struct Accumulate2<T>(T op) : ITernaryOp where T : struct, IBinaryOp
    {
        public float Apply(float a, float b, float acc) => op.Apply(a, b) + acc;
        public V Apply<V>(V a, V b, V acc) where V : unmanaged, IVec<V> => op.Apply(a, b) + acc;
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
