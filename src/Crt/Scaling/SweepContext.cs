using Crt.Data;
using Crt.Evaluation;
using Crt.Tensors;

namespace Crt.Scaling;

/// <summary>
/// What every stage of one sweep invocation shares: the plan, its folder, the log, the cancellation
/// token, and the measuring instruments — the feature network and the real test images — loaded once
/// and only when something is left to measure.
/// </summary>
internal sealed class SweepContext
{
    public SweepPlan Plan { get; }
    public string Dir { get; }
    public bool Quiet { get; }
    public Action<string> Log { get; }
    /// <summary>Where the trainers' own lines go: the log, indented, unless quiet.</summary>
    public Action<string> TrainerLog { get; }
    public CancellationToken Cancel { get; }

    private TrainedFeatureNet? _featureNet;
    private ImageSet? _test;
    private readonly Dictionary<int, Tensor> _real = new();

    public SweepContext(SweepPlan plan, string dir, bool quiet, Action<string> log, CancellationToken cancel)
    {
        (Plan, Dir, Quiet, Log, Cancel) = (plan, dir, quiet, log, cancel);
        TrainerLog = quiet ? _ => { } : line => log("    " + line);
    }

    public string TokenizerDir(string name) => Path.Combine(Dir, "tokenizers", name);
    public string TokensPath(string name, string split) => Path.Combine(Dir, "tokens", $"{name}.{split}.tokens");
    public string GptDir(string tokenizer, string preset) => Path.Combine(Dir, "gpt", tokenizer, preset);

    public TrainedFeatureNet FeatureNet => _featureNet ??= FeatureNetCache.GetOrTrain(Plan.Data, Log);

    public ImageSet Test => _test ??= BuiltInDatasets.Load(Plan.Data, Split.Test);

    /// <summary>The first eval.test_images test images with <paramref name="pad"/> pixels of padding: the real set of every FID.</summary>
    public Tensor Real(int pad)
    {
        if (_real.TryGetValue(pad, out var t)) return t;
        int n = Math.Min(Plan.Eval.TestImages, Test.Count);
        return _real[pad] = Test.Batch(Enumerable.Range(0, n).ToArray(), pad).Keep();
    }

    /// <summary>Stops the sweep here when Ctrl-C (or a test) asked for it; what is recorded stays recorded.</summary>
    public void ThrowIfCancelled()
    {
        if (Cancel.IsCancellationRequested) throw new OperationCanceledException("sweep interrupted; run the same command again to continue");
    }
}
