using System.Diagnostics;
using System.Globalization;
using Crt.Data;
using Crt.Evaluation;
using Crt.Tensors;
using Crt.Tensors.Kernels.Cpu;
using Crt.Training;

namespace Crt.Scaling;

/// <summary>A tokenizer ready for stage 2: its record, its checkpoint, and its token stores.</summary>
internal sealed record PreparedTokenizer(TokenizerRecord Record, TokenizerCheckpoint Checkpoint, string TrainTokens, string ValTokens);

/// <summary>
/// Stage 1 of a sweep for one tokenizer: train it (or resume it, or reuse an existing run as it is),
/// tokenize the training images and the validation sequences, and measure its reconstruction once.
/// Each part is skipped when its output is already there and was made by this very tokenizer.
/// </summary>
internal static class SweepTokenizerStage
{
    public static PreparedTokenizer Prepare(SweepContext ctx, SweepTokenizer t, TokenizerRecord? recorded, PointLog log)
    {
        var clock = Stopwatch.StartNew();
        var (trainer, result, earlierSeconds) = t.Run is null ? Train(ctx, t) : Reuse(ctx, t);
        var tok = TokenizerCheckpoint.Load(trainer.Run.Root);
        tok.Model.To(ctx.Device);
        if (tok.Config.Data != ctx.Plan.Data)
            throw new ArgumentException($"{trainer.Run.Root}: tokenizer '{t.Name}' was trained on '{tok.Config.Data}', the plan's data is '{ctx.Plan.Data}'");
        var trainTokens = ctx.TokensPath(t.Name, "train");
        var valTokens = ctx.TokensPath(t.Name, "val");
        Tokenize(ctx, tok, Split.Train, ctx.Plan.Tokenize.TrainImages, ctx.Plan.Tokenize.Variants, trainTokens);
        Tokenize(ctx, tok, Split.Validation, ctx.Plan.Eval.ValSequences, new[] { "original" }, valTokens);
        if (recorded is not null && recorded.Sha256 == tok.Sha256 && ctx.MeasuredHere(recorded)) return new PreparedTokenizer(recorded, tok, trainTokens, valTokens);

        ctx.ThrowIfCancelled();
        var record = Measure(ctx, t, trainer, result, tok) with { Seconds = earlierSeconds + clock.Elapsed.TotalSeconds };
        log.Append(record);
        ctx.Log(string.Create(CultureInfo.InvariantCulture,
            $"  {t.Name}: K = {record.CodebookSize}, {record.TokensPerImage} tokens, {record.Steps} steps, {record.TrainingFlops:G3} FLOPs; PSNR {record.Psnr:F2} dB, SSIM {record.Ssim:F4}, rFID ({record.FeatureNet}) {record.Rfid:F2}, usage {100 * record.CodebookUsage:F1}%"));
        return new PreparedTokenizer(record, tok, trainTokens, valTokens);
    }

    /// <summary>Refuses a tokenizer run of the sweep that was made with other settings than the plan now gives it (its points would describe another tokenizer).</summary>
    public static void EnsureSameSettings(SweepContext ctx, SweepTokenizer t)
    {
        string dir = ctx.TokenizerDir(t.Name);
        if (t.Run is not null || !File.Exists(Path.Combine(dir, "config.json"))) return;
        var made = ConfigResolver.Resolve(new TokenizerTrainConfig(), Path.Combine(dir, "config.json"), Array.Empty<string>());
        if (ConfigDiff.First(ConfigResolver.ToJson(made), ConfigResolver.ToJson(t.Config!)) is { } diff)
            throw new ArgumentException($"{dir}: this tokenizer run was made with other settings ({diff}); delete the folder to retrain it, or give the sweep another --out");
    }

    /// <summary>The settings of a tokenizer of the plan: its resolved config, or a reused run's own config.json.</summary>
    public static TokenizerTrainConfig ConfigOf(SweepTokenizer t)
    {
        if (t.Config is not null) return t.Config;
        string file = Path.Combine(t.Run!, "config.json");
        if (!File.Exists(file))
            throw new ArgumentException($"{t.Run}: tokenizer '{t.Name}' names this folder as a run to reuse, but it holds no config.json");
        return ConfigResolver.Resolve(new TokenizerTrainConfig(), file, Array.Empty<string>());
    }

    /// <summary>Trains (or resumes) the tokenizer; also returns the training seconds its checkpoint recorded of earlier processes (0 when unknown or fresh).</summary>
    private static (TokenizerTrainer, TokenizerTrainResult, double EarlierSeconds) Train(SweepContext ctx, SweepTokenizer t)
    {
        string dir = ctx.TokenizerDir(t.Name);
        TokenizerTrainer trainer;
        EnsureSameSettings(ctx, t);
        ctx.UseImagesOf(t.Name, t.Config!);
        if (WeightsOnly(dir) is { } saved) return OpenSaved(ctx, t, dir, saved);
        if (File.Exists(Path.Combine(dir, "config.json"))) trainer = TokenizerTrainer.Resume(dir, quiet: ctx.Quiet, log: ctx.TrainerLog, device: ctx.Device);
        else trainer = TokenizerTrainer.Create(t.Config!, dir, ctx.Quiet, ctx.TrainerLog, ctx.Device);
        double earlier = trainer.SecondsSpent ?? 0;
        var result = trainer.Train(ctx.Cancel);
        ctx.ThrowIfCancelled();
        return (trainer, result, earlier);
    }

    /// <summary>
    /// The latest checkpoint of the tokenizer's run when it holds only the weights (no optimizer state): what
    /// tools/sweep_results.sh saves of a finished tokenizer whose points are not all measured, and restores on another
    /// machine so the sweep goes on without training it again. Null when the run is absent or can be resumed.
    /// </summary>
    private static string? WeightsOnly(string dir)
    {
        if (!File.Exists(Path.Combine(dir, "config.json")) || RunDirectory.OpenToRead(dir).LatestCheckpoint() is not { } ckpt) return null;
        return File.Exists(Path.Combine(ckpt, "optimizer.safetensors")) ? null : ckpt;
    }

    /// <summary>A finished tokenizer restored as its weights alone: used as it is; one that had not reached the plan's steps is refused.</summary>
    private static (TokenizerTrainer, TokenizerTrainResult, double EarlierSeconds) OpenSaved(SweepContext ctx, SweepTokenizer t, string dir, string checkpoint)
    {
        var trainer = TokenizerTrainer.OpenFinished(dir, log: _ => { }, device: ctx.Device);
        if (trainer.Step < trainer.Config.Steps)
            throw new ArgumentException($"{checkpoint}: tokenizer '{t.Name}' holds only the weights of step {trainer.Step} of {trainer.Config.Steps} " +
                "(no optimizer state), so it cannot be trained on; delete the folder to train it again");
        ctx.Log($"  {t.Name}: using the saved weights of step {trainer.Step} ({checkpoint}); not trained again");
        return (trainer, AsItIs(trainer), 0); // trained elsewhere: its seconds were another machine's
    }

    /// <summary>The training result of a finished run opened as it is: its steps and FLOPs, and the regulariser's share measured by one step.</summary>
    private static TokenizerTrainResult AsItIs(TokenizerTrainer trainer)
    {
        var (with, without) = trainer.MeasureStepFlops();
        return new TokenizerTrainResult(trainer.Step, trainer.FlopsSpent, with, with / without - 1, false, 0, null);
    }

    /// <summary>An existing run, read and measured but never trained further.</summary>
    private static (TokenizerTrainer, TokenizerTrainResult, double EarlierSeconds) Reuse(SweepContext ctx, SweepTokenizer t)
    {
        ConfigOf(t); // a run without its config.json is refused, naming it
        var trainer = TokenizerTrainer.OpenFinished(t.Run!, log: _ => { }, device: ctx.Device);
        ctx.UseImagesOf(t.Name, trainer.Config);
        var result = AsItIs(trainer);
        ctx.Log($"  {t.Name}: reusing {t.Run} as it is (step {trainer.Step})");
        return (trainer, result, 0); // not this sweep's training
    }

    private static void Tokenize(SweepContext ctx, TokenizerCheckpoint tok, Split split, int count, string[] variants, string path)
    {
        var set = tok.Config.LoadSplit(split);
        count = Math.Min(count, set.Count);
        var expanded = Tokenization.ExpandVariants(variants);
        if (File.Exists(path))
        {
            var h = TokenStore.Read(path).Header;
            if (h.TokenizerSha256 == tok.Sha256 && h.Count == count && (h.VariantNames ?? Array.Empty<string>()).SequenceEqual(expanded)) return;
        }
        ctx.ThrowIfCancelled();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        ctx.Log($"  tokenizing {count} {split.ToString().ToLowerInvariant()} images × {expanded.Length} variants → {path}");
        var progress = new ProgressReporter("tokenize", 0, count, ctx.Quiet);
        Tokenization.Run(tok, set.Range($"{set.Name}-first-{count}", 0, count), path, expanded,
            progress: (done, _) => progress.Report(done, Array.Empty<(string, double)>(), done / Math.Max(progress.Elapsed, 1e-9), "img"));
    }

    private static TokenizerRecord Measure(SweepContext ctx, SweepTokenizer t, TokenizerTrainer trainer, TokenizerTrainResult result, TokenizerCheckpoint tok)
    {
        var cfg = tok.Config;
        int pad = ctx.Pad;
        var reconstructions = Tensor.Empty(ctx.Real.Shape).Keep(); // the images of ctx.Real: the first test images, padded alike
        var recon = TokenizerEvaluation.Evaluate(tok.Model, ctx.Test, pad, ctx.Plan.Eval.TestImages, trainer.Regularizer, reconstructions: reconstructions);
        double rfid = GenerationEvaluation.Compare(ctx.RealEmbedded, reconstructions).Fid;
        Directory.CreateDirectory(Path.Combine(ctx.Dir, "images"));
        TokenizerEvaluation.SaveReconstructionGrid(tok.Model, ctx.Test, pad, 16, Path.Combine(ctx.Dir, "images", $"recon-{t.Name}.png"));
        // A baseline that carries the regulariser as a λ = 0 probe is compared by its own compute (the probe only measures).
        bool probe = cfg.Crt.Enabled && cfg.Crt.LambdaMax == 0;
        return new TokenizerRecord
        {
            Name = t.Name, Sha256 = tok.Sha256, RunDir = trainer.Run.Root, Reused = t.Run is not null, Preset = cfg.Preset,
            CodebookSize = cfg.Model.CodebookSize, TokensPerImage = cfg.Model.TokensPerImage, CrtEnabled = cfg.Crt.Enabled && !probe, LambdaMax = cfg.Crt.Enabled ? cfg.Crt.LambdaMax : 0,
            Steps = result.Steps, TrainingFlops = probe ? result.TokenizerOnlyFlops : result.TrainingFlops, TrainingFlopsWithProbe = result.TrainingFlops,
            RegularizerFlopFraction = result.RegularizerFlopFraction, TestImages = recon.Images, Mse = recon.Mse, Psnr = recon.Psnr, Ssim = recon.Ssim, Rfid = rfid,
            CodebookUsage = recon.CodebookUsage, UsedCodes = recon.UsedCodes, CodeEntropyBits = recon.CodeEntropyBits, CrtLoss = recon.CrtLoss,
            FeatureNet = ctx.FeatureNet.Name, FeatureNetSha256 = ctx.FeatureNet.Sha256, Machine = MachineInfo.Describe(), Time = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
        };
    }
}
