using System.Diagnostics;
using System.Globalization;

namespace Crt.Training;

/// <summary>
/// The progress line of long work: step/total, the given values, throughput and ETA. On a terminal it
/// rewrites one line; in logs (redirected output) it prints a line every <see cref="LogEvery"/> calls.
/// Quiet mode prints nothing.
/// </summary>
public sealed class ProgressReporter
{
    private readonly string _label;
    private readonly long _total;
    private readonly bool _quiet;
    private readonly bool _interactive;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly long _startStep;
    private double _lastPrint = -1;

    public int LogEvery { get; init; } = 50;

    public ProgressReporter(string label, long startStep, long total, bool quiet)
    {
        (_label, _startStep, _total, _quiet) = (label, startStep, total, quiet);
        _interactive = !Console.IsOutputRedirected;
    }

    /// <summary>Elapsed seconds since this reporter started.</summary>
    public double Elapsed => _clock.Elapsed.TotalSeconds;

    public void Report(long step, IEnumerable<(string Name, double Value)> values, double itemsPerSecond, string unit)
    {
        if (_quiet) return;
        double t = Elapsed;
        bool last = step >= _total;
        if (_interactive ? t - _lastPrint < 0.25 && !last : step % LogEvery != 0 && !last) return;
        _lastPrint = t;
        double rate = (step - _startStep) / Math.Max(t, 1e-9);
        string eta = rate > 0 ? FormatDuration((_total - step) / rate) : "?";
        var parts = string.Join("  ", values.Select(v => $"{v.Name} {Format(v.Value)}"));
        string line = string.Create(CultureInfo.InvariantCulture,
            $"{_label} {step}/{_total} ({100.0 * step / Math.Max(1, _total):F1}%)  {parts}  {itemsPerSecond:F1} {unit}/s  ETA {eta}");
        if (_interactive) Console.Write("\r" + line.PadRight(Math.Min(Console.BufferWidth > 0 ? Console.BufferWidth - 1 : 120, 200)) + (last ? "\n" : ""));
        else Console.WriteLine(line);
    }

    /// <summary>Ends an interactive line early (before other output).</summary>
    public void Break()
    {
        if (!_quiet && _interactive && _lastPrint >= 0) Console.WriteLine();
        _lastPrint = -1;
    }

    public static string Format(double v) =>
        Math.Abs(v) >= 1000 || (Math.Abs(v) < 1e-3 && v != 0) ? v.ToString("G3", CultureInfo.InvariantCulture) : v.ToString("F4", CultureInfo.InvariantCulture);

    public static string FormatDuration(double seconds)
    {
        if (!double.IsFinite(seconds) || seconds < 0) return "?";
        var ts = TimeSpan.FromSeconds(seconds);
        return ts.TotalHours >= 1 ? $"{(int)ts.TotalHours}h{ts.Minutes:D2}m" : ts.TotalMinutes >= 1 ? $"{ts.Minutes}m{ts.Seconds:D2}s" : $"{ts.Seconds}s";
    }
}
