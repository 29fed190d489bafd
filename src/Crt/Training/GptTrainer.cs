using System.Diagnostics;
using System.Globalization;
using Crt.Data;
using Crt.Generator;
using Crt.Tensors;
using Crt.Tensors.Optim;

namespace Crt.Training;

public sealed record GptTrainResult(long Steps, double TrainingFlops, double FlopsPerStep, bool Interrupted, double Seconds, ModelabilityReport? Validation);

/// <summary>
/// Trains LlamaGen's c2i GPT on a token store: AdamW (weight decay on ≥2-D weights only), grad clip,
/// class dropout, a random stored variant (flip/crop) per image, periodic validation per position,
/// checkpoints that resume exactly, metrics.jsonl with cumulative FLOPs.
/// </summary>
public sealed class GptTrainer
{
    public GptTrainConfig Config { get; }
    public RunDirectory Run { get; }
    public Gpt Model { get; }
    public TokenStore Train { get; }
    public TokenStore? Val { get; }
    public long Step { get; private set; }
    public double FlopsSpent { get; private set; }
    /// <summary>Training wall seconds of the run across its processes (null when resumed from a checkpoint that did not record them).</summary>
    public double? SecondsSpent => _seconds.Total;
    private readonly TrainingSeconds _seconds = new();

    private readonly AdamW _opt;
    private readonly Rng _modelRng, _dataRng;
    private readonly bool _quiet;
    private readonly Action<string> _log;
    private long _totalSteps;
    private double _flopsPerStep;

    /// <summary>Where the model trains; not part of the config: a run's files do not depend on it, and it may resume elsewhere.</summary>
    public Device Device { get; }

    private GptTrainer(GptTrainConfig config, RunDirectory run, bool quiet, Action<string>? log, Device? device)
    {
        Device = device ?? Device.Cpu;
        TrainingPrecision.Apply(config.Precision, Device, log ?? Console.WriteLine);
        config.Validate();
        (Run, _quiet) = (run, quiet);
        _log = log ?? Console.WriteLine;
        Train = TokenStore.Read(config.Tokens);
        Val = config.ValTokens is null ? null : TokenStore.Read(config.ValTokens);
        var h = Train.Header;
        if (Val is not null && Val.Header.TokenizerSha256 != h.TokenizerSha256)
            throw new ArgumentException($"{config.ValTokens}: made by another tokenizer (sha256 {Val.Header.TokenizerSha256[..12]}…) than {config.Tokens} ({h.TokenizerSha256[..12]}…)");
        // The model's vocabulary, classes and length come from the tokens it will read.
        Config = config = config with
        {
            Model = config.Model with { VocabSize = h.CodebookSize, NumClasses = h.NumClasses, BlockSize = h.TokensPerImage },
            TokenizerSha256 = h.TokenizerSha256,
        };
        _modelRng = new Rng(config.Seed);
        _dataRng = new Rng(config.Seed ^ 0x9E3779B97F4A7C15UL);
        Model = new Gpt(config.Model, _modelRng);
        Model.To(Device);
        _opt = new AdamW(ParamGroup.DecayAndNoDecay(Model.NamedParameters(), config.WeightDecay), config.Lr, config.Beta1, config.Beta2, 1e-8);
    }

    public static GptTrainer Create(GptTrainConfig config, string outDir, bool quiet = false, Action<string>? log = null, Device? device = null)
    {
        config.Validate();
        var run = RunDirectory.Open(outDir, resume: false, log ?? Console.WriteLine);
        try
        {
            var trainer = new GptTrainer(config, run, quiet, log, device);
            run.WriteConfig(ConfigResolver.ToJson(trainer.Config));
            return trainer;
        }
        catch
        {
            run.DiscardIfUnused();
            throw;
        }
    }

    public static GptTrainer Resume(string outDir, long? steps = null, bool quiet = false, Action<string>? log = null, Device? device = null)
    {
        var run = RunDirectory.Open(outDir, resume: true, log ?? Console.WriteLine);
        run.RefuseResumeIfImported();
        var config = ConfigResolver.Resolve(new GptTrainConfig(), run.ConfigPath, Array.Empty<string>());
        if (steps is { } s) config = config with { Steps = s };
        var trainer = new GptTrainer(config, run, quiet, log, device);
        if (run.LatestCheckpoint() is { } ckpt)
        {
            trainer.Restore(trainer.Files().Load(ckpt));
            trainer._log($"resumed from {ckpt} at step {trainer.Step}");
        }
        run.TruncateMetricsAfter(trainer.Step);
        return trainer;
    }

    private void Restore(CheckpointState state)
    {
        (Step, FlopsSpent) = (state.Step, state.Flops);
        _seconds.Restore(state.Seconds);
    }

    private CheckpointFiles Files() => new CheckpointFiles()
        .Module("model.safetensors", Model).Optimizer("optimizer.safetensors", _opt).Rng("model", _modelRng).Rng("data", _dataRng);

    /// <summary>Training FLOPs of one step: 3× the forward matrix products of a full batch.</summary>
    public double MeasureStepFlops()
    {
        using var noGrad = Tensor.NoGrad();
        using var scope = TensorScope.Begin();
        var (classes, grids) = Batch(new Rng(0));
        bool wasTraining = Model.Training;
        Model.Eval(); // no dropout or label dropout: the model's RNG must not move (exact resume)
        try
        {
            using var fc = FlopCounter.Begin();
            Model.Loss(classes, grids, Config.BatchSize);
            return 3 * fc.Flops;
        }
        finally { Model.Train(wasTraining); }
    }

    private (int[] Classes, int[] Grids) Batch(Rng rng)
    {
        int n = Config.Model.BlockSize;
        var grids = new int[Config.BatchSize * n];
        var classes = new int[Config.BatchSize];
        for (int i = 0; i < Config.BatchSize; i++)
        {
            int img = rng.NextInt(Train.Count), variant = rng.NextInt(Train.Header.Variants);
            Train.GetCodes(img, variant, grids.AsSpan(i * n, n));
            classes[i] = Train.Labels[img];
        }
        return (classes, grids);
    }

    public GptTrainResult Fit(CancellationToken cancel = default)
    {
        _flopsPerStep = MeasureStepFlops();
        _totalSteps = Config.ComputeBudget is { } b ? Math.Max(1, (long)Math.Floor(b / _flopsPerStep)) : Config.Steps;
        var h = Train.Header;
        _log($"gpt {Config.Preset}: {Model.ParameterCount:N0} parameters; tokens {Config.Tokens}: {h.Count} images × {h.Variants} variants, {h.GridHeight}×{h.GridWidth} tokens, K = {h.CodebookSize}, {h.NumClasses} classes");
        _log($"training {_totalSteps} steps of batch {Config.BatchSize} ({_flopsPerStep:G3} FLOPs/step) from step {Step} on {Device.Name} into {Run.Root}");
        var clock = Stopwatch.StartNew();
        using var counting = _seconds.Start();
        var progress = new ProgressReporter("train", Step, _totalSteps, _quiet);
        long startStep = Step;
        bool interrupted = false;
        ModelabilityReport? lastVal = null;
        while (Step < _totalSteps)
        {
            if (cancel.IsCancellationRequested) { interrupted = true; break; }
            double loss = TrainStep();
            Step++;
            double tps = (Step - startStep) * Config.BatchSize * (double)Config.Model.BlockSize / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
            if (Step % 10 == 0 || Step == _totalSteps)
                Run.AppendMetrics("train", Step, new Dictionary<string, object?> { ["loss"] = loss, ["tokens_per_s"] = tps, ["flops"] = FlopsSpent, ["lr"] = Config.Lr });
            progress.Report(Step, new[] { ("loss", loss) }, tps, "tok");
            bool last = Step == _totalSteps;
            if (Val is not null && (Step % Config.ValEvery == 0 || last)) { progress.Break(); lastVal = Validate(); }
            if (Step % Config.CheckpointEvery == 0 || last) Run.SaveCheckpoint(Step, dir => Files().Save(dir, Step, FlopsSpent, _seconds.ForCheckpoint()));
        }
        if (interrupted)
        {
            progress.Break();
            Run.SaveCheckpoint(Step, dir => Files().Save(dir, Step, FlopsSpent, _seconds.ForCheckpoint()));
            _log($"interrupted: checkpoint saved at step {Step}; continue with --resume");
        }
        Reporting.RunReport.TryWriteForRun(Run.Root, _log);
        return new GptTrainResult(Step, FlopsSpent, _flopsPerStep, interrupted, clock.Elapsed.TotalSeconds, lastVal);
    }

    private double TrainStep()
    {
        using var scope = TensorScope.Begin();
        var (classes, grids) = Batch(_dataRng);
        using var fc = FlopCounter.Begin();
        _opt.ZeroGrad();
        var loss = Model.Loss(classes, grids, Config.BatchSize);
        float value = loss.Item();
        if (!float.IsFinite(value))
            throw new TrainingDivergedException($"step {Step + 1}: the loss is {value}; nothing was updated and the last checkpoint in {Run.CheckpointsDir} is intact; try a lower lr");
        loss.Backward();
        GradClip.ClipGradNorm(Model.Parameters(), Config.GradClip);
        _opt.Step();
        FlopsSpent += 3 * fc.Flops;
        return value;
    }

    public ModelabilityReport Validate()
    {
        var report = GptEvaluation.Evaluate(Model, Val!, Config.ValSequences);
        var values = report.ToMetrics();
        values["flops"] = FlopsSpent;
        Run.AppendMetrics("val", Step, values);
        if (!_quiet)
            _log(string.Create(CultureInfo.InvariantCulture,
                $"val step {Step}: ce/token {report.CePerToken:F4} nats  (position 0: {report.CePosition0:F4}, rest: {report.CeRest:F4})  {report.BitsPerImage:F1} bits/image"));
        return report;
    }
}
