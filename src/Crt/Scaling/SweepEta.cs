using Crt.Generator;
using Crt.Training;

namespace Crt.Scaling;

/// <summary>
/// The time left in a sweep, learned as it runs: training seconds per FLOP (one rate for all sizes, from
/// the segments trained so far) times the FLOPs left, plus measuring seconds per point (per preset once
/// one was measured, otherwise scaled from another preset by parameter count), plus, for each tokenizer
/// still to train, the mean seconds the tokenizers prepared so far took. Training FLOPs of a step are
/// taken as 6 · parameters · tokens, which is all a relative weight needs.
/// </summary>
internal sealed class SweepEta
{
    private readonly SweepPlan _plan;
    private readonly Dictionary<string, TokenizerRecord> _tokenizers;
    private double _trainSeconds, _trainFlops;
    private readonly Dictionary<string, (double Seconds, int Count)> _measure = new();
    private double _tokenizerSeconds;
    private int _tokenizersPrepared;

    public SweepEta(SweepPlan plan, IEnumerable<TokenizerRecord> tokenizers)
    {
        _plan = plan;
        _tokenizers = tokenizers.ToDictionary(t => t.Name);
    }

    /// <summary>A tokenizer was prepared (trained or resumed, tokenized, measured) in this many seconds.</summary>
    public void Prepared(TokenizerRecord record, double seconds)
    {
        _tokenizers[record.Name] = record;
        _tokenizerSeconds += seconds;
        _tokenizersPrepared++;
    }

    public void Measured(PointRecord p, long previousSteps)
    {
        _trainSeconds += p.TrainSeconds;
        _trainFlops += StepFlops(p.Tokenizer, p.Gpt) * (p.Steps - previousSteps);
        var (s, n) = _measure.GetValueOrDefault(p.Gpt);
        _measure[p.Gpt] = (s + p.Seconds - p.TrainSeconds, n + 1);
    }

    /// <summary>Seconds for the given points still to do and the tokenizers still to prepare, or null before anything was measured.</summary>
    public double? SecondsLeft(IEnumerable<(string Tokenizer, string Preset, long Steps, long PreviousSteps)> todo, int tokenizersToPrepare = 0)
    {
        if (_trainFlops <= 0 || _measure.Count == 0) return null;
        double rate = _trainSeconds / _trainFlops;
        double total = _tokenizersPrepared > 0 ? tokenizersToPrepare * _tokenizerSeconds / _tokenizersPrepared : 0;
        foreach (var (t, p, steps, prev) in todo)
            total += rate * StepFlops(t, p) * (steps - prev) + MeasureSeconds(p);
        return total;
    }

    private double MeasureSeconds(string preset)
    {
        if (_measure.TryGetValue(preset, out var m)) return m.Seconds / m.Count;
        var (known, km) = _measure.First();
        return km.Seconds / km.Count * Parameters(preset) / Parameters(known);
    }

    private double StepFlops(string tokenizer, string preset)
    {
        // A tokenizer not yet trained has no record: its plan config gives the same two numbers (a reused run: a guess).
        var t = _tokenizers.GetValueOrDefault(tokenizer);
        var planned = _plan.Tokenizers.FirstOrDefault(x => x.Name == tokenizer)?.Config?.Model;
        var model = GptConfig.Preset(preset) with
        {
            VocabSize = t?.CodebookSize ?? planned?.CodebookSize ?? 1024, BlockSize = t?.TokensPerImage ?? planned?.TokensPerImage ?? 64, NumClasses = 10,
        };
        return 6.0 * model.ParameterCount() * _plan.Gpt.BatchSize * model.BlockSize;
    }

    /// <summary>A preset's size at the built-in dataset's scale (a small codebook, ten classes), where embeddings do not swamp the comparison.</summary>
    private static double Parameters(string preset) => (GptConfig.Preset(preset) with { VocabSize = 512, NumClasses = 10, BlockSize = 64 }).ParameterCount();

    /// <summary>The step count the run of a point starts from: the plan's previous step count (0 for the first).</summary>
    public static long PreviousSteps(SweepPlan plan, long steps)
    {
        int i = Array.IndexOf(plan.Gpt.Steps, steps);
        return i > 0 ? plan.Gpt.Steps[i - 1] : 0;
    }

    public static string Format(double? seconds) => seconds is { } s ? ProgressReporter.FormatDuration(s) : "? (after the first point)";
}
