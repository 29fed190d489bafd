using System.Diagnostics;
using System.Globalization;

namespace Crt.Training;

/// <summary>
/// Wall time per named stage of a long run (the demo's tokenizer training, tokenization, GPT training, evaluation),
/// summed over every time a stage runs, so a user can see where the minutes went and which part a faster kernel
/// would shorten. Stages keep the order in which they first ran.
/// </summary>
public sealed class StageTimes
{
    private readonly List<(string Stage, double Seconds)> stages = new();

    /// <summary>Runs <paramref name="work"/> and adds its wall time to <paramref name="stage"/>.</summary>
    public T Time<T>(string stage, Func<T> work)
    {
        long start = Stopwatch.GetTimestamp();
        try { return work(); }
        finally { Add(stage, Stopwatch.GetElapsedTime(start).TotalSeconds); }
    }

    /// <inheritdoc cref="Time{T}(string, Func{T})"/>
    public void Time(string stage, Action work) => Time(stage, () => { work(); return 0; });

    public void Add(string stage, double seconds)
    {
        int i = stages.FindIndex(s => s.Stage == stage);
        if (i < 0) stages.Add((stage, seconds));
        else stages[i] = (stage, stages[i].Seconds + seconds);
    }

    public IReadOnlyList<(string Stage, double Seconds)> Stages => stages;

    /// <summary>"tokenizer training 7.1 min (43%), …" against <paramref name="totalSeconds"/>; what no stage timed (loading data, writing the report) is "other".</summary>
    public string Describe(double totalSeconds)
    {
        var inv = CultureInfo.InvariantCulture;
        double other = Math.Max(0, totalSeconds - stages.Sum(s => s.Seconds));
        string Part(string name, double s) =>
            $"{name} {(s / 60).ToString("F1", inv)} min ({(totalSeconds > 0 ? 100 * s / totalSeconds : 0).ToString("F0", inv)}%)";
        return string.Join(", ", stages.Select(s => Part(s.Stage, s.Seconds)).Append(Part("other", other)));
    }
}
