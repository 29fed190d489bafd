using System.Diagnostics;
using System.Globalization;
using Crt.Data;
using Crt.Evaluation;
using Crt.Generator;
using Crt.Tensors;
using Crt.Tensors.Kernels.Cpu;
using Crt.Training;

namespace Crt.Scaling;

/// <summary>
/// crt sweep --dry-run: every point with its GPT's size and training FLOPs (counted exactly: one forward
/// of the real model, × batch × 3), and the wall time the plan will take, from the unit costs
/// <see cref="SweepCalibration"/> measures on this machine now. Nothing is written outside a scratch folder.
/// </summary>
public static class SweepEstimate
{
    public static double Run(SweepPlan plan, Action<string> log)
    {
        string F(double v, string f) => v.ToString(f, CultureInfo.InvariantCulture);
        var clock = Stopwatch.StartNew();
        int? classes = null; // from the first tokenizer: an image folder is read as its tokenizers read it
        var scratch = Directory.CreateTempSubdirectory("crt-sweep-estimate-").FullName;
        log($"{plan.PointCount} points: {plan.Tokenizers.Count} tokenizers × {plan.Gpt.Presets.Length} GPT sizes × {plan.Gpt.Steps.Length} training lengths " +
            $"({string.Join(", ", plan.Gpt.Steps)} steps: checkpoints of one run per tokenizer and size). Timing a few steps of each configuration on {MachineInfo.Describe()} (the fastest of three timings: the estimate is for the machine to itself)...");
        try
        {
            double total = 0, tokenizerSeconds = 0; // the second: tokenizer training alone, shared by replicates of one tokenizer seed
            var tokTimes = new Dictionary<string, TokenizerTiming>();
            var gptTimes = new Dictionary<(string, int, int), GptTiming>();
            foreach (var t in plan.Tokenizers)
            {
                var cfg = t.Config ?? ConfigResolver.Resolve(new TokenizerTrainConfig(), Path.Combine(t.Run!, "config.json"), Array.Empty<string>());
                classes ??= cfg.LoadSplit(Split.Test).NumClasses;
                string key = ConfigResolver.ToJson(cfg with { Steps = 0, MatchBaselineSteps = null, ComputeBudget = null, Seed = 0, Crt = cfg.Crt with { LambdaMax = 1, RampSteps = 0 } });
                if (!tokTimes.TryGetValue(key, out var tt)) tokTimes[key] = tt = SweepCalibration.Tokenizer(cfg, scratch);
                long steps = t.Run is not null ? 0 : cfg.ComputeBudget is { } b ? (long)(b / tt.FlopsPerStep)
                    : cfg.MatchBaselineSteps is { } m ? (long)(m * tt.FlopsPerStepWithout / tt.FlopsPerStep) : cfg.Steps;
                int encoded = plan.Tokenize.TrainImages * Tokenization.ExpandVariants(plan.Tokenize.Variants).Length + plan.Eval.ValSequences;
                double seconds = steps * tt.StepSeconds + encoded * tt.EncodeSecondsPerImage + 2 * plan.Eval.TestImages * tt.ReconSecondsPerImage;
                total += seconds;
                tokenizerSeconds += steps * tt.StepSeconds;
                log($"  tokenizer {t.Name}: K = {cfg.Model.CodebookSize}, {cfg.Model.TokensPerImage} tokens; " + (t.Run is not null ? "reused, " : $"{steps} steps × {F(tt.StepSeconds, "F2")} s, ") +
                    $"{encoded} images to tokenize; ≈ {ProgressReporter.FormatDuration(seconds)}");

                foreach (var preset in plan.Gpt.Presets)
                {
                    var shape = (preset, cfg.Model.CodebookSize, cfg.Model.GridSize);
                    if (!gptTimes.TryGetValue(shape, out var gt)) gptTimes[shape] = gt = SweepCalibration.Gpt(plan, preset, cfg.Model.CodebookSize, cfg.Model.GridSize, classes.Value, scratch);
                    long last = plan.Gpt.Steps[^1];
                    double measure = plan.Gpt.Steps.Length * (plan.Eval.ValSequences * gt.ValSecondsPerSequence + plan.Eval.Samples * gt.SampleSecondsPerImage);
                    double run = last * gt.StepSeconds + measure;
                    total += run;
                    long parameters = (GptConfig.Preset(preset) with { VocabSize = cfg.Model.CodebookSize, NumClasses = classes.Value, BlockSize = cfg.Model.TokensPerImage }).ParameterCount();
                    log($"    {preset} ({parameters:N0} parameters): {F(gt.FlopsPerStep, "G3")} FLOPs/step, {F(gt.StepSeconds, "F3")} s/step; points at " +
                        string.Join(", ", plan.Gpt.Steps.Select(s => $"{s} ({F(s * gt.FlopsPerStep, "G2")})")) +
                        $" FLOPs; training ≈ {ProgressReporter.FormatDuration(last * gt.StepSeconds)}, measuring ≈ {ProgressReporter.FormatDuration(measure)} " +
                        $"({F(gt.SampleSecondsPerImage * 1000, "F1")} ms per sample)");
                }
            }
            if (plan.Replicates.Count > 1)
            {
                // Tokenizers are trained once per distinct tokenizer seed; every replicate trains and measures its GPTs.
                int distinct = plan.Replicates.Select(r => r.TokenizerSeed).Distinct().Count();
                log($"× {plan.Replicates.Count} replicates ({distinct} tokenizer seed(s)): the estimate below is for all of them");
                total = tokenizerSeconds * distinct + (total - tokenizerSeconds) * plan.Replicates.Count;
            }
            bool cached = FeatureNetCache.Available(plan.Data);
            log($"estimated wall time ≈ {ProgressReporter.FormatDuration(total)} on {Environment.ProcessorCount} otherwise idle cores (other work running beside the sweep slows it)" +
                (cached ? "" : ", plus a few minutes to train the FID feature network once (none is cached yet)") +
                $"; estimating took {ProgressReporter.FormatDuration(clock.Elapsed.TotalSeconds)}");
            return total;
        }
        finally { Directory.Delete(scratch, recursive: true); }
    }
}
