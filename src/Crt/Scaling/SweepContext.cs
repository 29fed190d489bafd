using Crt.Data;
using Crt.Evaluation;
using Crt.Tensors;
using Crt.Training;

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
    /// <summary>Where the sweep's models train and are measured.</summary>
    public Device Device { get; }

    private TrainedFeatureNet? _featureNet;
    private EmbeddedImages? _realEmbedded;
    private ImageSet? _test;
    private Tensor? _real;
    private ImageView? _view;

    /// <summary>How the data is read for measuring, and the tokenizer that first said so.</summary>
    private sealed record ImageView(ImageOptions Images, int Pad, string Tokenizer)
    {
        public override string ToString() => $"{Images.Size}×{Images.Size}, {Images.Channels} channel(s), resize {Images.Resize}, padding {Pad}";
    }

    public SweepContext(SweepPlan plan, string dir, bool quiet, Action<string> log, CancellationToken cancel, Device device)
    {
        (Plan, Dir, Quiet, Log, Cancel, Device) = (plan, dir, quiet, log, cancel, device);
        TrainerLog = quiet ? _ => { } : line => log("    " + line);
    }

    public string TokenizerDir(string name) => TokenizerDirIn(Dir, name);
    public static string TokenizerDirIn(string sweepDir, string name) => Path.Combine(sweepDir, "tokenizers", name);
    public string TokensPath(string name, string split) => Path.Combine(Dir, "tokens", $"{name}.{split}.tokens");
    public string GptDir(string tokenizer, string preset) => Path.Combine(Dir, "gpt", tokenizer, preset);

    /// <summary>
    /// Records how the sweep's tokenizers read the data (image size, channels, resize, padding): every FID of the
    /// sweep is measured on images read that way, so all its tokenizers must agree on it.
    /// </summary>
    public void UseImagesOf(string tokenizer, TokenizerTrainConfig cfg)
    {
        var view = new ImageView(cfg.Images(), cfg.Pad, tokenizer);
        _view ??= view;
        if (_view.Images != view.Images || _view.Pad != view.Pad)
            throw new ArgumentException($"tokenizer '{tokenizer}' reads the data as {view}, but '{_view.Tokenizer}' as {_view}; " +
                "a sweep's FIDs compare images read one way, so its tokenizers must agree");
    }

    private ImageView View =>
        _view ?? throw new InvalidOperationException("the sweep measured images before any tokenizer said how it reads them");

    /// <summary>The feature network of every FID, for the data as the tokenizers see it.</summary>
    public TrainedFeatureNet FeatureNet => _featureNet ??= OnDevice(FeatureNetCache.GetOrTrain(Plan.Data, Log, images: View.Images, pad: View.Pad));

    /// <summary>
    /// Whether a recorded tokenizer's rFID was measured under the feature network in use now. A record from another
    /// network (another machine's or build's training of it, or one made before records named it) is measured again:
    /// FIDs under two networks are not like for like.
    /// </summary>
    public bool MeasuredHere(TokenizerRecord r) => r.FeatureNetSha256 == FeatureNet.Sha256;

    /// <summary>Whether a recorded point's FID (if it has one) was measured under the feature network in use now.</summary>
    public bool MeasuredHere(PointRecord p) => p.FeatureNet is null || p.FeatureNetSha256 == FeatureNet.Sha256;

    private TrainedFeatureNet OnDevice(TrainedFeatureNet net)
    {
        net.Net.To(Device);
        return net;
    }

    /// <summary>The test split, read as the tokenizers read it (unpadded).</summary>
    public ImageSet Test => _test ??= BuiltInDatasets.Load(Plan.Data, Split.Test, View.Images, Log);

    public int Pad => View.Pad;

    /// <summary>The first eval.test_images test images, padded as the tokenizers see them: the real set of every FID.</summary>
    public Tensor Real => _real ??= Test.Batch(Enumerable.Range(0, Math.Min(Plan.Eval.TestImages, Test.Count)).ToArray(), Pad).Keep();

    /// <summary>
    /// <see cref="Real"/> through the feature network, once per sweep: every FID and rFID compares with it (embedding
    /// 10,000 test images took 3.3 s of every point's measurement on a 2-core AMD EPYC).
    /// </summary>
    public EmbeddedImages RealEmbedded => _realEmbedded ??= GenerationEvaluation.Embed(FeatureNet, Real);

    /// <summary>Stops the sweep here when Ctrl-C (or a test) asked for it; what is recorded stays recorded.</summary>
    public void ThrowIfCancelled()
    {
        if (Cancel.IsCancellationRequested) throw new OperationCanceledException("sweep interrupted; run the same command again to continue");
    }
}
