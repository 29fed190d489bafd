using System.Diagnostics;
using System.Globalization;
using Crt.Evaluation;
using Crt.Generator;
using Crt.Tensors;
using Crt.Tensors.Kernels.Cpu;
using Crt.Training;

namespace Crt.Scaling;

/// <summary>
/// Stage 2 of a sweep for one point: continue the (tokenizer, preset) GPT run from its latest checkpoint
/// to the point's step count — the run is one run, measured at each of the plan's step counts in turn —
/// then measure it there: validation cross-entropy and samples for FID.
/// </summary>
internal static class SweepGptStage
{
    /// <summary>
    /// The measured point, or null when the run is already past this step count and can no longer be measured there.
    /// <paramref name="previous"/> is the run's recorded point before this one (null for its first): what its training seconds start from.
    /// </summary>
    public static PointRecord? Measure(SweepContext ctx, PreparedTokenizer tok, string preset, long steps, PointRecord? previous)
    {
        var clock = Stopwatch.StartNew();
        var plan = ctx.Plan;
        string dir = ctx.GptDir(tok.Record.Name, preset);
        GptTrainer trainer;
        if (File.Exists(Path.Combine(dir, "config.json")))
        {
            EnsureSameSettings(ctx, tok.Record.Name, preset);
            var made = ConfigResolver.Resolve(new GptTrainConfig(), Path.Combine(dir, "config.json"), Array.Empty<string>());
            if (made.TokenizerSha256 != tok.Record.Sha256)
                throw new ArgumentException($"{dir}: this GPT was trained on tokens of another tokenizer (sha256 {made.TokenizerSha256?[..12]}…, now {tok.Record.Sha256[..12]}…); delete the folder to retrain it");
            trainer = GptTrainer.Resume(dir, steps, ctx.Quiet, ctx.TrainerLog, ctx.Device);
            if (trainer.Step > steps)
            {
                ctx.Log($"  {dir} is already at step {trainer.Step}, past {steps}: that point cannot be measured any more and is left out (delete the folder to retrain the run)");
                return null;
            }
        }
        else trainer = GptTrainer.Create(plan.GptConfig(preset, tok.TrainTokens, tok.ValTokens, steps), dir, ctx.Quiet, ctx.TrainerLog, ctx.Device);
        var result = trainer.Fit(ctx.Cancel);
        ctx.ThrowIfCancelled();
        double thisProcessTrain = clock.Elapsed.TotalSeconds;
        double trainSeconds = TrainSecondsSince(trainer.SecondsSpent, previous is null ? 0 : previous.RunTrainSeconds, thisProcessTrain);

        var val = result.Validation ?? GptEvaluation.Evaluate(trainer.Model, trainer.Val!, plan.Eval.ValSequences);
        GenerationReport? gen = null;
        if (plan.Eval.Samples > 0)
        {
            // The same seed at every point: differences between points are the models', not the sampler's luck.
            int classes = trainer.Model.Config.NumClasses;
            var labels = Enumerable.Range(0, plan.Eval.Samples).Select(i => i % classes).ToArray();
            var samples = SampleImages.Run(trainer.Model, tok.Checkpoint, labels, new SamplingOptions { CfgScale = plan.Eval.Cfg }, new Rng(plan.Seed + 1), 100,
                Path.Combine(dir, "samples", $"step-{steps:D7}"), columns: classes, quiet: ctx.Quiet, eachImage: false);
            gen = GenerationEvaluation.Compare(ctx.RealEmbedded, samples.Images, fidOfFirst: plan.Eval.FidOfFirst);
        }
        return new PointRecord
        {
            Tokenizer = tok.Record.Name, TokenizerSha256 = tok.Record.Sha256, CodebookSize = tok.Record.CodebookSize, TokensPerImage = tok.Record.TokensPerImage,
            TokenizerFlops = tok.Record.TrainingFlops, Gpt = preset, GptParameters = trainer.Model.ParameterCount, Steps = trainer.Step, BatchSize = trainer.Config.BatchSize,
            GptFlops = trainer.FlopsSpent, ValSequences = val.Sequences, CePerToken = val.CePerToken, CePosition0 = val.CePosition0, CeRest = val.CeRest,
            CePerPosition = val.CePerPosition, BitsPerImage = val.BitsPerImage, FeatureNet = gen?.FeatureNet, FeatureNetSha256 = gen?.FeatureNetSha256, Samples = gen?.Generated ?? 0, RealImages = gen?.Real ?? 0,
            Cfg = plan.Eval.Cfg, Fid = gen?.Fid, FidOfFirst = gen?.FidOfFirst.ToDictionary() ?? [], IsMean = gen?.IsMean, IsStd = gen?.IsStd, Precision = gen?.Precision, Recall = gen?.Recall,
            Seconds = trainSeconds + (clock.Elapsed.TotalSeconds - thisProcessTrain), // training, then measuring
            TrainSeconds = trainSeconds, RunTrainSeconds = trainer.SecondsSpent, Machine = MachineInfo.Describe(), Time = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
        };
    }

    /// <summary>
    /// Training seconds of a point: the run's seconds at this point less those at the previous one, when both are known
    /// (a run stopped and resumed between them counts every process's part); else this process's training time alone.
    /// A run that went backwards (retrained from its start under the same records) also falls back to this process's time.
    /// </summary>
    internal static double TrainSecondsSince(double? runSeconds, double? previousRunSeconds, double thisProcess) =>
        runSeconds - previousRunSeconds is { } d && d >= 0 ? d : thisProcess;

    /// <summary>Refuses a GPT run of the sweep that was made with other settings than the plan now gives it (its points would describe another run).</summary>
    public static void EnsureSameSettings(SweepContext ctx, string tokenizer, string preset)
    {
        string dir = ctx.GptDir(tokenizer, preset);
        if (!File.Exists(Path.Combine(dir, "config.json"))) return;
        var made = ConfigResolver.Resolve(new GptTrainConfig(), Path.Combine(dir, "config.json"), Array.Empty<string>());
        if (ConfigDiff.First(Comparable(made), Comparable(ctx.Plan.GptConfig(preset, "", "", 1))) is { } diff)
            throw new ArgumentException($"{dir}: this GPT run was made with other settings ({diff}); delete the folder to retrain it, or give the sweep another --out");
    }

    /// <summary>A GPT config without what legitimately differs between a run's record and the plan: the step target, token paths and what the tokens decide.</summary>
    private static string Comparable(GptTrainConfig c) => ConfigResolver.ToJson(c with
    {
        Steps = 0, Tokens = "", ValTokens = null, TokenizerSha256 = null,
        Model = c.Model with { VocabSize = 0, NumClasses = 0, BlockSize = 0 },
    });
}
