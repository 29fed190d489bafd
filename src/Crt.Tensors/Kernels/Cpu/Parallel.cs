namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Splits work over the outer dimension across cores, but only when there is enough of it to pay for
/// the hand-off (a few microseconds with the spinning workers of <see cref="SpinPool"/>).
/// </summary>
public static class Par
{
    /// <summary>Work units (≈ flops or element visits) below which a loop runs on the calling thread.</summary>
    public const long MinParallelWork = 1 << 15;

    /// <summary>Cores the kernels use: $CRT_THREADS when set (e.g. to run two trainings side by side), else all.</summary>
    public static int Threads { get; set; } =
        int.TryParse(Environment.GetEnvironmentVariable("CRT_THREADS"), out var t) && t > 0 ? t : Environment.ProcessorCount;

    /// <summary>Runs body(i) for i in [0, n); <paramref name="workPerItem"/> sizes the decision to go parallel.</summary>
    public static void For(int n, long workPerItem, Action<int> body)
    {
        if (n <= 0) return;
        if (n == 1 || Threads <= 1 || n * workPerItem < MinParallelWork)
        {
            for (int i = 0; i < n; i++) body(i);
            return;
        }
        Run(n, body);
    }

    /// <summary>The spinning worker pool when the cores are real, the .NET thread pool otherwise (more threads than cores).</summary>
    private static void Run(int n, Action<int> body)
    {
        if (Threads <= Environment.ProcessorCount)
        {
            if (SpinPool.TryRun(n, Threads, body)) return;
            for (int i = 0; i < n; i++) body(i); // another region is running (nested or concurrent): run inline
            return;
        }
        System.Threading.Tasks.Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = Threads }, body);
    }

    /// <summary>Runs body(start, end) over at most <see cref="Threads"/> contiguous chunks of [0, n).</summary>
    public static void ForRange(int n, long workPerItem, Action<int, int> body)
    {
        if (n <= 0) return;
        int chunks = (int)Math.Min(Threads, Math.Max(1, n * workPerItem / MinParallelWork));
        chunks = Math.Min(chunks, n);
        if (chunks <= 1) { body(0, n); return; }
        Run(chunks, c =>
        {
            int s = (int)((long)n * c / chunks), e = (int)((long)n * (c + 1) / chunks);
            body(s, e);
        });
    }
}
