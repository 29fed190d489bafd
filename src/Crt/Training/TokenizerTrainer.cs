using System.Diagnostics;
using System.Globalization;
using Crt.Data;
using Crt.Regularizer;
using Crt.Tensors;
using Crt.Tensors.Optim;
using Crt.Tokenizer;

namespace Crt.Training;

/// <summary>What a finished (or interrupted) tokenizer run reports.</summary>
public sealed record TokenizerTrainResult(long Steps, double TrainingFlops, double FlopsPerStep, double RegularizerFlopFraction,
    bool Interrupted, double Seconds, ReconstructionReport? Validation)
{
    /// <summary>FLOPs of the tokenizer alone (encoder, quantizer, decoder), without the regulariser's share.</summary>
    public double TokenizerOnlyFlops => TrainingFlops / (1 + RegularizerFlopFraction);
}

/// <summary>
/// Trains a VQ tokenizer (LlamaGen's losses: MSE + codebook + commitment [+ entropy] [+ PatchGAN hinge
/// from disc_start]) with the CRT regulariser (spec §3), writing everything into a run directory:
/// config.json, metrics.jsonl, checkpoints that resume exactly, reconstruction grids.
/// </summary>
public sealed class TokenizerTrainer
{
    public TokenizerTrainConfig Config { get; }
    public RunDirectory Run { get; }
    public VqModel Model { get; }
    public CausalRegularizer? Regularizer { get; }
    public PatchGanDiscriminator Discriminator { get; }
    public long Step { get; private set; }
    public double FlopsSpent { get; private set; }
    /// <summary>Training wall seconds of the run across its processes (null when resumed from a checkpoint that did not record them).</summary>
    public double? SecondsSpent => _seconds.Total;
    private readonly TrainingSeconds _seconds = new();

    private readonly Adam _optVq, _optDisc;
    private readonly AdamW? _optReg;
    private readonly Ema? _ema;
    private readonly Lpips? _lpips;
    private readonly Rng _modelRng, _dataRng;
    /// <summary>The flip probability after the flip setting (resolved once: "auto" looks at the data folder).</summary>
    private readonly float _flipProbability;
    private readonly ImageSet _train, _val;
    private readonly bool _quiet;
    private readonly Action<string> _log;
    private long _totalSteps;
    private double _flopsPerStep, _regularizerFraction;
    private bool _readOnly;

    /// <summary>Where the models train; not part of the config: checkpoints are host files and a run may resume on another device.</summary>
    public Device Device { get; }

    private TokenizerTrainer(TokenizerTrainConfig config, RunDirectory run, bool quiet, Action<string>? log, Device? device = null)
    {
        Device = device ?? Device.Cpu;
        TrainingPrecision.Apply(config.Precision, Device, log ?? Console.WriteLine);
        config.Validate();
        (Config, Run, _quiet) = (config, run, quiet);
        _log = log ?? Console.WriteLine;
        _modelRng = new Rng(config.Seed);
        _dataRng = new Rng(config.Seed ^ 0x9E3779B97F4A7C15UL);
        _flipProbability = config.Flips ? config.FlipProbability : 0f;
        (_train, _val) = LoadData(config, _log);
        int side = _train.Height + 2 * config.Pad;
        if (side != config.Model.ImageSize || _train.Width + 2 * config.Pad != config.Model.ImageSize)
            throw new ArgumentException($"data: {_train.Name} images are {_train.Height}×{_train.Width} (+{config.Pad} padding = {side}), the tokenizer preset '{config.Preset}' expects {config.Model.ImageSize}×{config.Model.ImageSize}; set pad, image_size or model.image_size");
        if (_train.Channels != config.Model.InChannels)
            throw new ArgumentException($"data: {_train.Name} images have {_train.Channels} channels, the tokenizer expects model.in_channels = {config.Model.InChannels}");

        Model = new VqModel(config.Model, _modelRng);
        Discriminator = new PatchGanDiscriminator(config.Model.InChannels, config.DiscChannels, config.DiscLayers, _modelRng);
        if (config.Crt.Enabled)
            Regularizer = new CausalRegularizer(config.Crt, config.Model.CodeDim, config.Model.CodebookSize, config.Model.GridSize, _modelRng);
        // Moved before the optimizers and the EMA take their tensors, so their state is made on the device.
        Model.To(Device);
        Discriminator.To(Device);
        Regularizer?.To(Device);
        _optVq = new Adam(Model.NamedParameters(), config.Lr, config.Beta1, config.Beta2, 1e-8);
        _optDisc = new Adam(Discriminator.NamedParameters(), config.Lr, config.Beta1, config.Beta2, 1e-8);
        if (Regularizer is not null)
            _optReg = new AdamW(ParamGroup.DecayAndNoDecay(Regularizer.NamedParameters(), 0.0), config.Crt.LearningRate, 0.9, 0.95, 1e-8);
        if (config.EmaDecay > 0) _ema = new Ema(Model, includeBuffers: false);
        if (config.LpipsWeights is not null && config.PerceptualWeight > 0) _lpips = (Lpips)Lpips.FromFile(config.LpipsWeights).To(Device);
    }

    /// <summary>Starts a new run in <paramref name="outDir"/> (which must not hold one).</summary>
    public static TokenizerTrainer Create(TokenizerTrainConfig config, string outDir, bool quiet = false, Action<string>? log = null, Device? device = null)
    {
        config.Validate();
        var run = RunDirectory.Open(outDir, resume: false, log ?? Console.WriteLine);
        try
        {
            var trainer = new TokenizerTrainer(config, run, quiet, log, device);
            run.WriteConfig(ConfigResolver.ToJson(config));
            return trainer;
        }
        catch
        {
            run.DiscardIfUnused(); // a run that could not start leaves no folder behind to block the next attempt
            throw;
        }
    }

    /// <summary>Reopens the run in <paramref name="outDir"/> at its latest checkpoint; <paramref name="steps"/> may extend it.</summary>
    public static TokenizerTrainer Resume(string outDir, long? steps = null, bool quiet = false, Action<string>? log = null, Device? device = null)
    {
        var run = RunDirectory.Open(outDir, resume: true, log ?? Console.WriteLine);
        run.RefuseResumeIfImported();
        var config = ConfigResolver.Resolve(new TokenizerTrainConfig(), run.ConfigPath, Array.Empty<string>());
        if (steps is { } s) config = config with { Steps = s };
        var trainer = new TokenizerTrainer(config, run, quiet, log, device);
        var ckpt = run.LatestCheckpoint();
        if (ckpt is not null) trainer.LoadCheckpoint(ckpt);
        run.TruncateMetricsAfter(trainer.Step);
        return trainer;
    }

    /// <summary>
    /// A finished run opened to be measured and used (its FLOPs, regulariser and weights), never trained further:
    /// its latest checkpoint may be stripped to the weights (model.safetensors, regularizer.safetensors, state.json).
    /// </summary>
    public static TokenizerTrainer OpenFinished(string outDir, Action<string>? log = null, Device? device = null)
    {
        var run = RunDirectory.OpenToRead(outDir);
        var config = ConfigResolver.Resolve(new TokenizerTrainConfig(), run.ConfigPath, Array.Empty<string>());
        var trainer = new TokenizerTrainer(config, run, quiet: true, log, device) { _readOnly = true };
        var ckpt = run.LatestCheckpoint() ?? throw new FileNotFoundException($"{outDir}: the run has no checkpoint yet");
        trainer.Restore(trainer.Files().Load(ckpt, weightsOnly: true));
        return trainer;
    }

    private static (ImageSet Train, ImageSet Val) LoadData(TokenizerTrainConfig config, Action<string> log) =>
        (config.LoadSplit(Split.Train, log), config.LoadSplit(Split.Validation, log));

    // ---- compute accounting ------------------------------------------------------------------------

    /// <summary>Training FLOPs of one step (3× the forward matrix-product FLOPs) with and without the regulariser, before the discriminator starts.</summary>
    public (double WithRegularizer, double Without) MeasureStepFlops()
    {
        using var noGrad = Tensor.NoGrad();
        using var scope = TensorScope.Begin();
        var x = _train.Batch(Enumerable.Range(0, Config.BatchSize).Select(i => i % _train.Count).ToArray(), Config.Pad).To(Device);
        bool wasTraining = Model.Training;
        Model.Eval(); // no codebook-usage bookkeeping for a measurement pass
        double without, with;
        try
        {
            using (var fc = FlopCounter.Begin())
            {
                var (rec, q) = Model.Forward(x);
                _lpips?.Forward(x, rec);
                without = 3 * fc.Flops;
                if (Regularizer is not null) Regularizer.Loss(q.Latents, q.Indices);
                with = 3 * fc.Flops;
            }
        }
        finally { Model.Train(wasTraining); }
        return (with, without);
    }

    private void PlanSteps()
    {
        var (with, without) = MeasureStepFlops();
        _flopsPerStep = with;
        _regularizerFraction = with / without - 1;
        double? budget = Config.ComputeBudget ?? (Config.MatchBaselineSteps is { } n ? n * without : null);
        _totalSteps = budget is { } b ? Math.Max(1, (long)Math.Floor(b / with)) : Config.Steps;
    }

    // ---- training ------------------------------------------------------------------------------------

    /// <summary>Runs until the planned number of steps or until <paramref name="cancel"/> fires (then saves a checkpoint and returns).</summary>
    public TokenizerTrainResult Train(CancellationToken cancel = default)
    {
        if (_readOnly) throw new InvalidOperationException($"{Run.Root}: this run was opened to be read (OpenFinished), not to be trained");
        PlanSteps();
        var clock = Stopwatch.StartNew();
        using var counting = _seconds.Start();
        _log($"tokenizer {Config.Preset}: {Model.ParameterCount:N0} parameters, K = {Config.Model.CodebookSize}, {Config.Model.GridSize}×{Config.Model.GridSize} tokens; " +
             (Regularizer is null ? "CRT off (baseline)" : $"CRT on (λ_max {Config.Crt.LambdaMax}, depth {Config.Crt.Depth}, width {Config.Crt.Width}, {Regularizer.ParameterCount:N0} parameters, +{100 * _regularizerFraction:F1}% FLOPs per step)"));
        _log(_lpips is null
            ? $"perceptual loss: OFF (no LPIPS-VGG16 weights given: set lpips_weights to a file made by tools/convert_lpips.py); adversarial loss from step {Config.DiscStart}"
            : $"perceptual loss: LPIPS-VGG16 from {Config.LpipsWeights}, weight {Config.PerceptualWeight}; adversarial loss from step {Config.DiscStart}");
        if (Config.Model.DeadCodeRestart is > 0 and int n)
            _log($"dead codes: every {n} steps, each code not chosen during the last {n} steps is re-initialised to a latent of the batch");
        _log($"data {Config.Data}: " + (Config.Augment ? $"random resized crops (scale ≥ {Config.CropScaleMin}), {FlipSetting.Describe(Config.Flip, Config.Data)}" : "no augmentation"));
        _log($"training {_totalSteps} steps of batch {Config.BatchSize} ({_flopsPerStep:G3} FLOPs/step) from step {Step} into {Run.Root}");
        var progress = new ProgressReporter("train", Step, _totalSteps, _quiet);
        var window = Stopwatch.StartNew();
        long windowStart = Step;
        bool interrupted = false;
        ReconstructionReport? lastVal = null;
        while (Step < _totalSteps)
        {
            if (cancel.IsCancellationRequested) { interrupted = true; break; }
            var m = TrainStep();
            Step++;
            double ips = (Step - windowStart) * Config.BatchSize / Math.Max(window.Elapsed.TotalSeconds, 1e-9);
            if (Step % 10 == 0 || Step == _totalSteps || m.ContainsKey("dead_codes_restarted")) // every restart is logged
            {
                m["images_per_s"] = ips;
                m["flops"] = FlopsSpent;
                Run.AppendMetrics("train", Step, m);
            }
            progress.Report(Step, new[] { ("loss", (double)m["loss"]!), ("rec", (double)m["rec_loss"]!), ("crt", m["crt_loss"] is double c ? c : double.NaN) }
                .Where(v => !double.IsNaN(v.Item2)), ips, "img");
            bool last = Step == _totalSteps;
            if (Step % Config.ValEvery == 0 || last) { progress.Break(); lastVal = Validate(); }
            if (Step % Config.ImageEvery == 0 || last)
                TokenizerEvaluation.SaveReconstructionGrid(Model, _val, Config.Pad, 8, Path.Combine(Run.ImagesDir, $"recon-step-{Step:D7}.png"));
            if (Step % Config.CheckpointEvery == 0 || last) SaveCheckpoint();
        }
        if (interrupted)
        {
            progress.Break();
            SaveCheckpoint();
            _log($"interrupted: checkpoint saved at step {Step}; continue with --resume");
        }
        Reporting.RunReport.TryWriteForRun(Run.Root, _log);
        return new TokenizerTrainResult(Step, FlopsSpent, _flopsPerStep, _regularizerFraction, interrupted, clock.Elapsed.TotalSeconds, lastVal);
    }

    private Dictionary<string, object?> TrainStep()
    {
        using var scope = TensorScope.Begin();
        var idx = new int[Config.BatchSize];
        for (int i = 0; i < idx.Length; i++) idx[i] = _dataRng.NextInt(_train.Count);
        var x = _train.Batch(idx, Config.Pad);
        if (Config.Augment) x = Augment.RandomResizedCropAndFlip(x, _dataRng, Config.CropScaleMin, _flipProbability);
        x = x.To(Device); // the batch is made and augmented on the host, as a data loader does

        bool adversarial = Step >= Config.DiscStart;
        double lambda = Config.Crt.Lambda(Step);
        var metrics = new Dictionary<string, object?>();
        using var flops = FlopCounter.Begin();

        _optVq.ZeroGrad();
        _optReg?.ZeroGrad();
        var (rec, q) = Model.Forward(x);
        var recLoss = Ops.MseLoss(rec, x);
        // The quantizer returns these losses in training mode, which a trainer's model is in.
        Tensor vqLoss = q.VqLoss!, commitLoss = q.CommitLoss!;
        var loss = Ops.Add(Ops.Add(recLoss, vqLoss), commitLoss);
        if (q.EntropyLoss is not null) loss = Ops.Add(loss, q.EntropyLoss);
        if (_lpips is not null)
        {
            var perceptual = Ops.Mean(_lpips.Forward(x, rec));
            metrics["perceptual_loss"] = (double)perceptual.Item();
            loss = Ops.Add(loss, Ops.MulScalar(perceptual, Config.PerceptualWeight));
        }
        double crtValue = double.NaN;
        if (Regularizer is not null)
        {
            // [choice] g trains on its own, unweighted loss while the encoder receives λ·∂L_crt: the latents
            // enter g through a gradient scale of λ (identity forward), so g keeps learning while λ ramps from 0.
            var latents = Config.Crt.NormalizedLatents ? q.Latents : q.RawLatents;
            var scaled = Ops.Add(Ops.MulScalar(latents, (float)lambda), Ops.MulScalar(latents, (float)(1 - lambda)).Detach());
            var crtLoss = Regularizer.Loss(scaled, q.Indices);
            crtValue = crtLoss.Item();
            loss = Ops.Add(loss, crtLoss);
        }
        Tensor? genAdv = null;
        if (adversarial)
        {
            genAdv = PatchGanDiscriminator.GeneratorLoss(Discriminator.Forward(rec));
            loss = Ops.Add(loss, Ops.MulScalar(genAdv, Config.DiscWeight));
        }
        float lossValue = loss.Item();
        double reportedLoss = lossValue - (double.IsNaN(crtValue) ? 0 : crtValue * (1 - lambda));
        if (!float.IsFinite(lossValue))
            throw new TrainingDivergedException($"step {Step + 1}: the loss is {lossValue} (reconstruction {recLoss.Item()}, vq {vqLoss.Item()}, commitment {commitLoss.Item()}, crt {crtValue}); " +
                $"nothing was updated and the last checkpoint in {Run.CheckpointsDir} is intact; try a lower lr");
        loss.Backward();
        double gradNorm = GradClip.ClipGradNorm(Model.Parameters(), Config.GradClip);
        _optVq.Step();
        if (Regularizer is not null) { GradClip.ClipGradNorm(Regularizer.Parameters(), Config.GradClip); _optReg!.Step(); }
        _ema?.Update(Config.EmaDecay);
        if (Config.Model.DeadCodeRestart is > 0 and int window)
        {
            // After the update, so the new rows are not moved by this step's gradient; their moments start afresh.
            Model.Quantize.NoteCodesUsed(q.Indices, Step + 1);
            if ((Step + 1) % window == 0)
                using (Tensor.NoGrad())
                {
                    var restarted = Model.Quantize.RestartDeadCodes(Ops.Reshape(q.Latents.Detach(), -1, Config.Model.CodeDim), Step + 1, window, _modelRng);
                    _optVq.ResetRows("quantize.embedding.weight", restarted);
                    metrics["dead_codes_restarted"] = (double)restarted.Length;
                }
        }

        if (adversarial)
        {
            _optDisc.ZeroGrad();
            var dLoss = Ops.MulScalar(PatchGanDiscriminator.HingeLoss(Discriminator.Forward(x), Discriminator.Forward(rec.Detach())), Config.DiscWeight);
            metrics["disc_loss"] = (double)dLoss.Item();
            dLoss.Backward();
            GradClip.ClipGradNorm(Discriminator.Parameters(), Config.GradClip);
            _optDisc.Step();
        }
        FlopsSpent += 3 * flops.Flops;

        var stats = Evaluation.CodebookStats.Of(q.Indices, Config.BatchSize, Config.Model.TokensPerImage, Config.Model.CodebookSize);
        metrics["loss"] = reportedLoss;
        metrics["rec_loss"] = (double)recLoss.Item();
        metrics["vq_loss"] = (double)vqLoss.Item();
        metrics["commit_loss"] = (double)commitLoss.Item();
        if (q.EntropyLoss is not null) metrics["entropy_loss"] = (double)q.EntropyLoss.Item();
        metrics["crt_loss"] = double.IsNaN(crtValue) ? null : crtValue;
        metrics["lambda"] = lambda;
        metrics["gen_adv_loss"] = genAdv is null ? null : (double)genAdv.Item();
        metrics["grad_norm"] = gradNorm;
        metrics["codebook_usage"] = Model.Quantize.RecentUsage();
        metrics["batch_code_entropy_bits"] = stats.EntropyBits;
        return metrics;
    }

    public ReconstructionReport Validate()
    {
        using var swap = _ema?.SwapIn();
        var report = TokenizerEvaluation.Evaluate(Model, _val, Config.Pad, Config.ValImages, Regularizer);
        var values = report.ToMetrics();
        values["flops"] = FlopsSpent;
        Run.AppendMetrics("val", Step, values);
        if (!_quiet)
        {
            string crt = report.CrtLoss is { } c ? string.Create(CultureInfo.InvariantCulture, $"  crt {c:F5}") : "";
            _log(string.Create(CultureInfo.InvariantCulture,
                $"val step {Step}: mse {report.Mse:F5}  psnr {report.Psnr:F2} dB  ssim {report.Ssim:F4}  usage {100 * report.CodebookUsage:F1}%  entropy {report.CodeEntropyBits:F2} bits{crt}"));
        }
        return report;
    }

    // ---- checkpoints ---------------------------------------------------------------------------------

    private CheckpointFiles Files()
    {
        var files = new CheckpointFiles()
            .Module("model.safetensors", Model).Optimizer("optimizer.safetensors", _optVq)
            .Module("discriminator.safetensors", Discriminator).Optimizer("discriminator-optimizer.safetensors", _optDisc)
            .Rng("model", _modelRng).Rng("data", _dataRng);
        if (Regularizer is not null) files.Module("regularizer.safetensors", Regularizer).Optimizer("regularizer-optimizer.safetensors", _optReg!);
        if (_ema is not null) files.Tensors("ema.safetensors", _ema.StateDict, _ema.LoadStateDict);
        return files;
    }

    private void SaveCheckpoint() => Run.SaveCheckpoint(Step, dir => Files().Save(dir, Step, FlopsSpent, _seconds.ForCheckpoint()));

    private void Restore(CheckpointState state)
    {
        (Step, FlopsSpent) = (state.Step, state.Flops);
        _seconds.Restore(state.Seconds);
    }

    private void LoadCheckpoint(string dir)
    {
        Restore(Files().Load(dir));
        Model.Quantize.AssumeUsageWindowFilled();
        _log($"resumed from {dir} at step {Step}");
    }
}

/// <summary>Training stopped on a non-finite loss; the message says where and what is intact.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);
