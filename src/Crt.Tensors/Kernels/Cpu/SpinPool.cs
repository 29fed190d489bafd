using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Persistent worker threads for <see cref="Par"/>: after a parallel region they spin for a short while
/// (<see cref="SpinMicroseconds"/>) before sleeping, so the back-to-back regions of a training step find
/// them awake. The thread pool's workers go to sleep between regions and take tens of microseconds to
/// wake, which costs small GEMMs and convolutions more than their second core gains them (as OpenBLAS,
/// which spins its threads the same way). Items are claimed from a shared counter, so a descheduled
/// worker delays nothing. A region started while another runs (another thread, or nested inside a
/// region's body) is refused and the caller runs it inline.
/// </summary>
internal static class SpinPool
{
    public static int SpinMicroseconds { get; set; } = 200;

    private sealed class Worker
    {
        public readonly SemaphoreSlim Wake = new(0);
        public volatile bool Sleeping;
        public int Index;
    }

    private static readonly object Gate = new();
    [ThreadStatic] private static bool _inside;
    private static Worker[] _workers = Array.Empty<Worker>();
    private static Action<int>? _body;
    private static int _n, _next, _wanted, _active, _closed;
    private static long _generation;
    private static ExceptionDispatchInfo? _error;

    /// <summary>Runs body(i) for i in [0, n) on the caller and up to threads − 1 workers; false when a region is already running.</summary>
    public static bool TryRun(int n, int threads, Action<int> body)
    {
        if (_inside || !Monitor.TryEnter(Gate)) return false;
        try
        {
            int wanted = Math.Min(threads - 1, n - 1);
            EnsureWorkers(wanted);
            _inside = true;
            _body = body;
            _n = n;
            _next = 0;
            _error = null;
            _wanted = wanted;
            _closed = 0;
            Interlocked.Increment(ref _generation); // publishes the job (full fence)
            for (int w = 0; w < wanted; w++)
                if (_workers[w].Sleeping) _workers[w].Wake.Release();
            Work();
            // Close the job, then wait only for the workers that got into it: one still waking up finds it
            // closed and stays out, so the caller never waits on a sleeping thread.
            Interlocked.Exchange(ref _closed, 1);
            var spin = new SpinWait();
            while (Volatile.Read(ref _active) != 0) spin.SpinOnce(sleep1Threshold: -1);
            _body = null;
            _error?.Throw();
            return true;
        }
        finally
        {
            _inside = false;
            Monitor.Exit(Gate);
        }
    }

    private static void Work()
    {
        var body = _body!;
        int i;
        try
        {
            while ((i = Interlocked.Increment(ref _next) - 1) < _n) body(i);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);
            Volatile.Write(ref _next, int.MaxValue / 2); // the others stop taking items
        }
    }

    private static void EnsureWorkers(int count)
    {
        if (_workers.Length >= count) return;
        var grown = new Worker[count];
        Array.Copy(_workers, grown, _workers.Length);
        for (int w = _workers.Length; w < count; w++)
        {
            var worker = grown[w] = new Worker { Index = w };
            new Thread(() => Loop(worker)) { IsBackground = true, Name = $"crt-worker-{w + 1}" }.Start();
        }
        _workers = grown;
    }

    private static void Loop(Worker me)
    {
        long seen = Volatile.Read(ref _generation);
        long spinTicks = Stopwatch.Frequency * SpinMicroseconds / 1_000_000;
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            long g;
            int spins = 0;
            while ((g = Volatile.Read(ref _generation)) == seen)
            {
                Thread.SpinWait(16);
                if ((++spins & 31) != 0 || Stopwatch.GetTimestamp() - start < spinTicks) continue;
                me.Sleeping = true;
                if (Volatile.Read(ref _generation) == seen) me.Wake.Wait();
                me.Sleeping = false;
                start = Stopwatch.GetTimestamp();
            }
            seen = g;
            if (me.Index >= Volatile.Read(ref _wanted)) continue;
            Interlocked.Increment(ref _active); // full fence before reading _closed (pairs with the caller's exchange)
            if (Volatile.Read(ref _closed) != 0 || Volatile.Read(ref _generation) != g)
            {
                Interlocked.Decrement(ref _active);
                continue;
            }
            _inside = true;
            try { Work(); }
            finally
            {
                _inside = false;
                Interlocked.Decrement(ref _active);
            }
        }
    }
}
