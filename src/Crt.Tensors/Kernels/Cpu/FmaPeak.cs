using System.Diagnostics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// The multiply-add peak of this machine at the SIMD width in force (<see cref="SimdPath.Bits"/>), measured rather
/// than taken from a data sheet (clocks and pipes differ; the cores are shared): each of <see cref="Par.Threads"/>
/// threads (the GEMM's) runs a loop of 12 independent multiply-add chains held in registers (enough to cover the
/// FMA latency on every current core: 2 pipes × 4–5 cycles), no memory traffic. A GEMM's GFLOP/s over this one's
/// is its fraction of peak (bench's fma-peak row, `crt doctor`).
/// </summary>
public static class FmaPeak
{
    private const int Chains = 12;

    /// <summary>Floating-point operations of one <see cref="RunOneThread"/> call.</summary>
    public static double FlopsPerThread(int iterations) => 2.0 * Chains * Math.Max(1, SimdPath.Bits / 32) * iterations;

    /// <summary>One thread's chains for <paramref name="iterations"/> steps; the result only keeps the work from being optimised away.</summary>
    public static float RunOneThread(int iterations) => SimdPath.Bits switch
    {
        512 => VectorChains<V512>(iterations),
        256 => VectorChains<V256>(iterations),
        128 => VectorChains<V128>(iterations),
        _ => ScalarChains(iterations),
    };

    /// <summary>GFLOP/s over every kernel thread: the best of repeated rounds for about <paramref name="seconds"/>.</summary>
    public static double Measure(double seconds)
    {
        const int iterations = 1 << 20;
        var sink = new float[Par.Threads];
        double best = 0;
        var total = Stopwatch.StartNew();
        do
        {
            long start = Stopwatch.GetTimestamp();
            Par.For(Par.Threads, long.MaxValue / 64, t => sink[t] = RunOneThread(iterations));
            double s = Stopwatch.GetElapsedTime(start).TotalSeconds;
            best = Math.Max(best, FlopsPerThread(iterations) * Par.Threads / s / 1e9);
        } while (total.Elapsed.TotalSeconds < seconds);
        GC.KeepAlive(sink);
        return best;
    }

    /// <summary>a·b + c as the GEMM kernels do it: fused where the CPU has FMA, else a multiply and an add.</summary>
    private static V Mad<V>(V a, V b, V c) where V : unmanaged, IVec<V>
        => Fma.IsSupported || AdvSimd.IsSupported ? V.Fma(a, b, c) : a * b + c;

    private static float VectorChains<V>(int iterations) where V : unmanaged, IVec<V>
    {
        // x ← x·m + d with m just below 1: the chains converge to d/(1−m) and never overflow or go subnormal.
        var m = V.Create(0.999f); var d = V.Create(1e-3f);
        V x0 = V.Create(0f), x1 = V.Create(1f), x2 = V.Create(2f), x3 = V.Create(3f), x4 = V.Create(4f), x5 = V.Create(5f);
        V x6 = V.Create(6f), x7 = V.Create(7f), x8 = V.Create(8f), x9 = V.Create(9f), x10 = V.Create(10f), x11 = V.Create(11f);
        for (int i = 0; i < iterations; i++)
        {
            x0 = Mad(x0, m, d); x1 = Mad(x1, m, d); x2 = Mad(x2, m, d); x3 = Mad(x3, m, d);
            x4 = Mad(x4, m, d); x5 = Mad(x5, m, d); x6 = Mad(x6, m, d); x7 = Mad(x7, m, d);
            x8 = Mad(x8, m, d); x9 = Mad(x9, m, d); x10 = Mad(x10, m, d); x11 = Mad(x11, m, d);
        }
        return V.Sum(((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) + ((x8 + x9) + (x10 + x11)));
    }

    private static float ScalarChains(int iterations)
    {
        float m = 0.999f, d = 1e-3f;
        float x0 = 0, x1 = 1, x2 = 2, x3 = 3, x4 = 4, x5 = 5, x6 = 6, x7 = 7, x8 = 8, x9 = 9, x10 = 10, x11 = 11;
        for (int i = 0; i < iterations; i++)
        {
            x0 = x0 * m + d; x1 = x1 * m + d; x2 = x2 * m + d; x3 = x3 * m + d;
            x4 = x4 * m + d; x5 = x5 * m + d; x6 = x6 * m + d; x7 = x7 * m + d;
            x8 = x8 * m + d; x9 = x9 * m + d; x10 = x10 * m + d; x11 = x11 * m + d;
        }
        return x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11;
    }
}
