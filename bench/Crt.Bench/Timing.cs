using System.Diagnostics;
using Crt.Tensors;

namespace Crt.Bench;

/// <summary>How Crt.Bench times a workload: one step, the warm-up, and the timed iterations.</summary>
public static class Timing
{
    public static void Step(IWorkload w)
    {
        using var scope = TensorScope.Begin(); // a training step's temporaries return to the pool
        w.Run();
        BenchDevice.Current.Synchronize(); // a device's kernels are asynchronous: the step ends when they have run
    }

    /// <summary>Warm-up (JIT, pool) for at least 3 runs or a third of the budget.</summary>
    public static void Warm(IWorkload w, double seconds)
    {
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 3 || sw.Elapsed.TotalSeconds < seconds / 3; i++) Step(w);
    }

    /// <summary>Per-iteration times in milliseconds over <paramref name="seconds"/>: at least 5 iterations, at most 1000.</summary>
    public static List<double> Times(IWorkload w, double seconds)
    {
        var times = new List<double>();
        var sw = Stopwatch.StartNew();
        while (times.Count < 5 || (sw.Elapsed.TotalSeconds < seconds && times.Count < 1000))
        {
            var t0 = Stopwatch.GetTimestamp();
            Step(w);
            times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        return times;
    }
}
