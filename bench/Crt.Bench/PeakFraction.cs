using System.Globalization;
using Crt.Bench.Workloads;
using Crt.Scaling;

namespace Crt.Bench;

/// <summary>
/// A workload's GFLOP/s as a fraction of the FMA loop's (<see cref="FmaPeakWorkload"/>), the two measured in turns in
/// one process: on a shared host whose speed changes within a minute, `fma-peak` and `sgemm-1024` timed in separate
/// runs minutes apart can land in different states, and their ratio then measures the host. Here each round times the
/// peak and the workload back to back (the order alternating: peak first, then workload first), and the ratio of the
/// two is one observation; the summary is their median and the 95% Student-t interval of their mean.
/// </summary>
public static class PeakFraction
{
    public static int Run(IWorkload work, int rounds, double seconds)
    {
        if (rounds < 2)
        {
            Console.Error.WriteLine($"fraction: --rounds {rounds} must be at least 2 (one round gives no interval)");
            return 2;
        }
        var peak = new FmaPeakWorkload();
        peak.Setup();
        work.Setup();
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"{work.Name} against fma-peak, {rounds} rounds of {seconds.ToString(inv)} s per side, {Crt.Tensors.Kernels.Cpu.Par.Threads} threads, " +
                          $"{Crt.Tensors.Kernels.Cpu.SimdPath.Describe(Crt.Tensors.Kernels.Cpu.SimdPath.Bits)}");
        Timing.Warm(peak, seconds);
        Timing.Warm(work, seconds);
        var fractions = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            double p, w;
            if (r % 2 == 0) { p = GflopS(peak, seconds); w = GflopS(work, seconds); }
            else { w = GflopS(work, seconds); p = GflopS(peak, seconds); }
            fractions.Add(w / p);
            Console.WriteLine($"round {r + 1}: fma-peak {p.ToString("F1", inv)} GFLOP/s, {work.Name} {w.ToString("F1", inv)} GFLOP/s: {(100 * w / p).ToString("F1", inv)}%");
        }
        var sorted = fractions.Order().ToList();
        var ci = MeanInterval.Of(fractions);
        Console.WriteLine($"{work.Name}: median {(100 * sorted[sorted.Count / 2]).ToString("F1", inv)}% of fma-peak (range {(100 * sorted[0]).ToString("F1", inv)}–" +
                          $"{(100 * sorted[^1]).ToString("F1", inv)}%; mean {(100 * ci.Mean).ToString("F1", inv)}%, 95% interval " +
                          $"{(100 * ci.Low).ToString("F1", inv)}–{(100 * ci.High).ToString("F1", inv)}%)");
        return 0;
    }

    /// <summary>GFLOP/s at the median iteration time over <paramref name="seconds"/>.</summary>
    private static double GflopS(IWorkload w, double seconds)
    {
        var ms = Timing.Times(w, seconds);
        ms.Sort();
        return w.Flops / (ms[ms.Count / 2] / 1e3) / 1e9;
    }
}
