using System.Diagnostics;
using Crt.Data;
using Crt.Generator;
using Crt.Tensors;
using Crt.Training;

namespace Crt.Scaling;

/// <summary>Measured seconds of the unit costs a sweep is made of, on this machine now.</summary>
public sealed record TokenizerTiming(double StepSeconds, double FlopsPerStep, double FlopsPerStepWithout, double EncodeSecondsPerImage, double ReconSecondsPerImage);
public sealed record GptTiming(double StepSeconds, double FlopsPerStep, double ValSecondsPerSequence, double SampleSecondsPerImage);

/// <summary>
/// Times a few real training steps of each tokenizer and GPT configuration (the real trainers, in a
/// temporary folder that is removed afterwards), plus encoding, reconstruction, validation and sampling,
/// so a sweep's wall time can be estimated before it runs. The first step of each is a warm-up and not
/// timed; every unit is timed <see cref="Repeats"/> times and the fastest kept, because on a shared
/// machine other work only ever makes a timing slower: the estimate is for the machine to itself.
/// </summary>
internal static class SweepCalibration
{
    private const int TimedSteps = 3, Repeats = 3;

    private static double Fastest(Func<double> seconds) => Enumerable.Range(0, Repeats).Min(_ => seconds());

    /// <summary>
    /// The throughput the trainer logged with its last step: taken before the run's closing checkpoint is
    /// written, which a sweep pays once per few hundred steps but a timing of a few steps would pay in full.
    /// </summary>
    private static double LastTrainRecord(RunDirectory run, string key) =>
        (double)run.ReadMetrics().Last(m => (string?)m["kind"] == "train")[key]!;

    private static double Time(Action work)
    {
        var clock = Stopwatch.StartNew();
        work();
        return clock.Elapsed.TotalSeconds;
    }

    public static TokenizerTiming Tokenizer(TokenizerTrainConfig config, string scratch)
    {
        var dir = Path.Combine(scratch, "tok-" + Guid.NewGuid().ToString("N")[..8]);
        var cfg = config with { Steps = 1, MatchBaselineSteps = null, ComputeBudget = null, ValImages = 8, ValEvery = int.MaxValue, ImageEvery = int.MaxValue, CheckpointEvery = int.MaxValue };
        var first = TokenizerTrainer.Create(cfg, dir, quiet: true, log: _ => { });
        var (with, without) = first.MeasureStepFlops();
        first.Train();
        long at = 1;
        double step = Fastest(() =>
        {
            var t = TokenizerTrainer.Resume(dir, steps: at += TimedSteps, quiet: true, log: _ => { });
            t.Train();
            return cfg.BatchSize / LastTrainRecord(t.Run, "images_per_s");
        });
        var tok = TokenizerCheckpoint.Load(dir);
        var val = config.LoadSplit(Split.Validation);
        var set = val.Range("calibration", 0, Math.Min(128, val.Count)); // per-image times: a small split times fewer images
        double encode = Fastest(() => Time(() => Tokenization.Run(tok, set, Path.Combine(dir, "calibration.tokens"), new[] { "original" }))) / set.Count;
        double recon = Fastest(() => Time(() => TokenizerEvaluation.Evaluate(tok.Model, set, config.Pad, set.Count))) / set.Count;
        return new TokenizerTiming(step, with, without, encode, recon);
    }

    public static GptTiming Gpt(SweepPlan plan, string preset, int codebook, int grid, int classes, string scratch)
    {
        var dir = Path.Combine(scratch, "gpt-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var store = Path.Combine(dir, "random.tokens");
        var rng = new Rng(1);
        int count = 256, n = grid * grid;
        TokenStore.Write(store, new TokenStoreHeader
        {
            TokenizerSha256 = new string('0', 64), GridHeight = grid, GridWidth = grid, CodebookSize = codebook, NumClasses = classes, Count = count, Variants = 1,
        }, Enumerable.Range(0, count * n).Select(_ => rng.NextInt(codebook)).ToArray(), Enumerable.Range(0, count).Select(i => i % classes).ToArray());
        var cfg = plan.GptConfig(preset, store, store, 1) with { ValTokens = null, CheckpointEvery = int.MaxValue };
        var run = Path.Combine(dir, "run");
        var warm = GptTrainer.Create(cfg, run, quiet: true, log: _ => { });
        double flops = warm.MeasureStepFlops();
        warm.Fit();
        long at = 1;
        GptTrainer trainer = warm;
        double step = Fastest(() =>
        {
            (trainer = GptTrainer.Resume(run, steps: at += TimedSteps, quiet: true, log: _ => { })).Fit();
            return (double)cfg.BatchSize * n / LastTrainRecord(trainer.Run, "tokens_per_s");
        });
        var tokens = TokenStore.Read(store);
        double val = Fastest(() => Time(() => GptEvaluation.Evaluate(trainer.Model, tokens, 128))) / 128;
        // Sampling in the sweep's batches of 100 (fewer when the plan draws fewer samples): the per-image cost depends on the batch.
        int batch = Math.Max(2, Math.Min(100, plan.Eval.Samples));
        var labels = Enumerable.Range(0, batch).Select(i => i % classes).ToArray();
        double sample = Fastest(() => Time(() => Sampler.Generate(trainer.Model, labels, new SamplingOptions { CfgScale = plan.Eval.Cfg }, new Rng(2)))) / batch;
        return new GptTiming(step, flops, val, sample);
    }
}
