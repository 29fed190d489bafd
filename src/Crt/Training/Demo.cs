using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Crt.Data;
using Crt.Evaluation;
using Crt.Generator;
using Crt.Reporting;
using Crt.Tensors;
using Crt.Tensors.Kernels.Cpu;

namespace Crt.Training;

/// <summary>What the demo measured for one tokenizer (baseline or CRT) and the GPT trained on its tokens.</summary>
public sealed record DemoArm(string Name, TokenizerTrainResult Tokenizer, ReconstructionReport Reconstruction, double RFid,
    GptTrainResult Gpt, ModelabilityReport Modelability, GenerationReport Generation, string RunDir, string GptDir);

/// <summary>Both arms of the demo trained with one seed (tokenizers, GPTs and sampling).</summary>
public sealed record DemoReplicate(ulong Seed, DemoArm Baseline, DemoArm Crt);

/// <summary>Every replicate of a demo (one per seed) and its report; <see cref="Baseline"/> and <see cref="Crt"/> are the first seed's arms.</summary>
public sealed record DemoOutcome(IReadOnlyList<DemoReplicate> Replicates, string Report)
{
    public DemoArm Baseline => Replicates[0].Baseline;
    public DemoArm Crt => Replicates[0].Crt;
}

/// <summary>
/// The paper's trade-off on the built-in dataset, end to end: a baseline and a CRT vq-tiny at equal
/// compute, their tokens, the same GPT trained on each at equal compute, per-position CE, samples and
/// FID under the in-project feature net, and one report.html. Every stage is a normal run directory
/// and is skipped when it is already complete, so an interrupted demo continues where it stopped.
/// </summary>
public static class Demo
{
    /// <param name="Data">The built-in dataset, or a folder any tokenizer run can read (IDX files, or images in class subfolders read as 28×28 gray).</param>
    /// <param name="Flip">"auto", "on" or "off" (see <see cref="FlipSetting"/>): the tokenizers' flip augmentation and the mirrored copies tokenized for the GPT.</param>
    /// <param name="Seeds">Replicates: the whole comparison once per seed Seed, Seed + 1, …; with more than one, each in DIR/seed-S/ and
    /// the report gives claim 3's verdict with a 95% interval over them.</param>
    /// <param name="CrtSet">Tokenizer settings (key=value, as `crt tokenizer train --set`) for the CRT arm alone, applied after the
    /// demo's own: one arm of the ablation study (docs/results.md), e.g. crt.ramp_steps=250. The keys the demo sets itself
    /// (<see cref="OwnKeys"/>) are refused.</param>
    public sealed record Options(double Budget = 1.0, string Out = "runs/demo", bool Quiet = false, ulong Seed = 0, float LambdaMax = 4f,
        string Data = BuiltInDatasets.FashionMnist, string Flip = "auto", Device? Device = null, int Seeds = 1, IReadOnlyList<string>? CrtSet = null);

    /// <summary>Settings the demo fixes for both arms (equal compute, the same data and schedule), so --crt-set may not change them.</summary>
    public static readonly string[] OwnKeys =
        { "steps", "match_baseline_steps", "seed", "data", "flip", "val_every", "val_images", "checkpoint_every", "image_every", "crt.enabled" };

    /// <summary>Sizes at budget b: everything that costs compute scales linearly.</summary>
    internal sealed record Plan(long TokenizerSteps, int TokenizeImages, long GptSteps, int EvalImages, int Samples)
    {
        public static Plan For(double b) => new(
            // Budget 1 is sized to finish within 15 minutes on a 2-core laptop-class CPU (README: measured time).
            TokenizerSteps: Math.Max(20, (long)Math.Round(320 * b)),
            TokenizeImages: Math.Min(55000, Math.Max(1000, (int)Math.Round(8000 * b))),
            GptSteps: Math.Max(20, (long)Math.Round(560 * b)),
            EvalImages: Math.Min(5000, Math.Max(500, (int)Math.Round(2000 * Math.Sqrt(b)))),
            Samples: Math.Max(200, (int)Math.Round(1000 * Math.Sqrt(b)) / 10 * 10));
    }

    public static DemoOutcome Run(Options o, CancellationToken cancel, Action<string> log)
    {
        if (o.Seeds < 1) throw new ArgumentException($"demo: seeds {o.Seeds} must be at least 1");
        var clock = Stopwatch.StartNew();
        var times = new StageTimes();
        var plan = Plan.For(o.Budget);
        Directory.CreateDirectory(o.Out);
        var data = TokenizerTrainConfig.ForPreset("vq-tiny") with { Data = o.Data, Flip = o.Flip };
        data.Validate();
        ArmConfig(true, data, plan, o); // a bad --crt-set fails here, before the baseline arm trains
        var fn = times.Time("feature net", () => FeatureNetCache.GetOrTrain(o.Data, log, images: data.Images(), pad: data.Pad));
        fn.Net.To(o.Device ?? Device.Cpu);
        var test = data.LoadSplit(Split.Test, log);
        var val = data.LoadSplit(Split.Validation, log);
        var all = data.LoadSplit(Split.Train, log);
        var train = all.Range($"{all.Name}-demo", 0, Math.Min(plan.TokenizeImages, all.Count));
        plan = plan with { EvalImages = Math.Min(plan.EvalImages, Math.Min(test.Count, val.Count)) };
        log($"crt demo on {o.Data}, budget {o.Budget}: tokenizers {plan.TokenizerSteps} steps, tokens of {train.Count} images, GPT {plan.GptSteps} steps, " +
            $"{plan.EvalImages} evaluation images, {plan.Samples} samples per model; {FlipSetting.Describe(o.Flip, o.Data)}; " +
            $"{(o.Seeds == 1 ? $"seed {o.Seed}" : $"{o.Seeds} seeds ({o.Seed}–{o.Seed + (ulong)o.Seeds - 1})")}; output {Path.GetFullPath(o.Out)}");

        var replicates = new List<DemoReplicate>();
        for (int i = 0; i < o.Seeds; i++)
        {
            // One seed keeps the single-run layout; several put each replicate in its own folder.
            var r = o with { Seed = o.Seed + (ulong)i, Out = o.Seeds == 1 ? o.Out : Path.Combine(o.Out, $"seed-{o.Seed + (ulong)i}") };
            if (o.Seeds > 1) log($"[replicate {i + 1}/{o.Seeds}] seed {r.Seed} → {r.Out}");
            var baseline = Arm("baseline", crt: false, data, plan, r, fn, train, val, test, times, cancel, log);
            var crtArm = Arm("crt", crt: true, data, plan, r, fn, train, val, test, times, cancel, log);
            replicates.Add(new DemoReplicate(r.Seed, baseline, crtArm));
        }
        var report = WriteReport(o, plan, fn, replicates, clock.Elapsed.TotalSeconds, times);
        log(string.Create(CultureInfo.InvariantCulture, $"demo done in {clock.Elapsed.TotalMinutes:F1} min; report {report}"));
        log($"time by stage, both arms: {times.Describe(clock.Elapsed.TotalSeconds)}");
        return new DemoOutcome(replicates, report);
    }

    /// <summary>One arm's tokenizer settings: the demo's, then for the CRT arm its λ_max and the --crt-set overrides.</summary>
    internal static TokenizerTrainConfig ArmConfig(bool crt, TokenizerTrainConfig data, Plan plan, Options o)
    {
        var tcfg = data with
        {
            // The baseline carries the regulariser as a probe with λ = 0: it learns to predict the baseline's latents
            // (so both runs report a CRT loss) while the encoder receives none of its gradient.
            // λ ramps over the spec's 1000 steps whatever the budget: a demo-length ramp (a third of the run) reached
            // λ_max 4 early and collapsed the codebook to 7% of its codes, with worse FID at budgets 1 and 2.5 (README).
            Crt = new() { Enabled = true, LambdaMax = crt ? o.LambdaMax : 0f },
            Steps = plan.TokenizerSteps, MatchBaselineSteps = crt ? plan.TokenizerSteps : null,
            ValEvery = (int)plan.TokenizerSteps, ValImages = plan.EvalImages, CheckpointEvery = (int)Math.Max(1, plan.TokenizerSteps / 4),
            ImageEvery = (int)plan.TokenizerSteps, Seed = o.Seed,
        };
        if (!crt || o.CrtSet is not { Count: > 0 } sets) return tcfg;
        foreach (var set in sets)
        {
            string key = set.Split('=')[0].Trim();
            if (OwnKeys.Contains(key)) throw new ArgumentException($"--crt-set {set}: the demo sets {key} itself, the same for both arms");
        }
        try
        {
            var resolved = ConfigResolver.Resolve(tcfg, null, sets);
            resolved.Validate();
            return resolved;
        }
        catch (ArgumentException e) { throw new ArgumentException($"--crt-set: {e.Message.Replace("--set: ", "").Replace("--set ", "")}"); }
    }

    /// <summary>A tokenizer folder from an earlier demo resumes only with the settings it was started with.</summary>
    private static void RefuseOtherSettings(string stored, TokenizerTrainConfig wanted)
    {
        var was = ConfigResolver.Resolve(wanted, stored, Array.Empty<string>());
        foreach (var (part, a, b) in new[] { ("crt", ConfigResolver.ToJson(was.Crt), ConfigResolver.ToJson(wanted.Crt)), ("model", ConfigResolver.ToJson(was.Model), ConfigResolver.ToJson(wanted.Model)) })
            if (a != b)
                throw new ArgumentException($"{stored}: this tokenizer was started with other {part} settings than this demo asks for " +
                    "(another --lambda-max or --crt-set); run the demo with the settings it was started with, or with another --out");
    }

    private static DemoArm Arm(string name, bool crt, TokenizerTrainConfig data, Plan plan, Options o, TrainedFeatureNet fn, ImageSet train, ImageSet val, ImageSet test,
        StageTimes times, CancellationToken cancel, Action<string> log)
    {
        // Stage 1: the tokenizer. The CRT run gets the baseline's compute: fewer steps by the regulariser's FLOP share.
        string tokDir = Path.Combine(o.Out, $"tokenizer-{name}");
        var tcfg = ArmConfig(crt, data, plan, o);
        log($"[{name}] tokenizer → {tokDir}");
        string stored = Path.Combine(tokDir, "config.json");
        if (File.Exists(stored)) RefuseOtherSettings(stored, tcfg);
        var tokTrainer = File.Exists(stored)
            ? TokenizerTrainer.Resume(tokDir, quiet: o.Quiet, log: log, device: o.Device)
            : TokenizerTrainer.Create(tcfg, tokDir, o.Quiet, log, o.Device);
        var tokResult = times.Time("tokenizer training", () => tokTrainer.Train(cancel));
        if (tokResult.Interrupted) throw new OperationCanceledException("demo interrupted; run it again to continue");
        var tok = TokenizerCheckpoint.Load(tokDir);
        tok.Model.To(o.Device ?? Device.Cpu);

        // Tokens: the demo's training subset and the validation split.
        var trainTokens = Path.Combine(tokDir, "train.tokens");
        var valTokens = Path.Combine(tokDir, "val.tokens");
        times.Time("tokenization", () =>
        {
            if (!File.Exists(trainTokens) || TokenStore.Read(trainTokens).Header.TokenizerSha256 != tok.Sha256)
            {
                log($"[{name}] tokenizing {train.Count} training images ({(data.Flips ? "original + mirrored" : "originals only")})");
                Tokenization.Run(tok, train, trainTokens, data.Flips ? new[] { "original", "flip" } : new[] { "original" });
            }
            if (!File.Exists(valTokens) || TokenStore.Read(valTokens).Header.TokenizerSha256 != tok.Sha256)
                Tokenization.Run(tok, val.Range($"{val.Name}-demo", 0, plan.EvalImages), valTokens, new[] { "original" });
        });

        // Stage 2: the same GPT, the same number of steps (equal compute: same model, same sequence length).
        string gptDir = Path.Combine(o.Out, $"gpt-{name}");
        var gcfg = GptTrainConfig.ForPreset("gpt-t2") with
        {
            Tokens = trainTokens, ValTokens = valTokens, Steps = plan.GptSteps, BatchSize = 64, Lr = 3e-4,
            ValEvery = (int)Math.Max(1, plan.GptSteps / 4), ValSequences = plan.EvalImages, CheckpointEvery = (int)Math.Max(1, plan.GptSteps / 4), Seed = o.Seed,
        };
        log($"[{name}] GPT → {gptDir}");
        var gptTrainer = File.Exists(Path.Combine(gptDir, "config.json"))
            ? GptTrainer.Resume(gptDir, quiet: o.Quiet, log: log, device: o.Device)
            : GptTrainer.Create(gcfg, gptDir, o.Quiet, log, o.Device);
        var gptResult = times.Time("GPT training", () => gptTrainer.Fit(cancel));
        if (gptResult.Interrupted) throw new OperationCanceledException("demo interrupted; run it again to continue");
        long evaluationStart = Stopwatch.GetTimestamp();
        var modelability = GptEvaluation.Evaluate(gptTrainer.Model, TokenStore.Read(valTokens), plan.EvalImages);

        // Measurements: reconstruction (and rFID) on the test split, generation FID against it.
        var real = test.Batch(Enumerable.Range(0, plan.EvalImages).ToArray(), tok.Config.Pad).Keep();
        var reconstructions = Tensor.Empty(real.Shape).Keep();
        var recon = TokenizerEvaluation.Evaluate(tok.Model, test, tok.Config.Pad, plan.EvalImages, tokTrainer.Regularizer, reconstructions: reconstructions);
        var realEmbedded = GenerationEvaluation.Embed(fn, real); // once for the rFID and the FID
        double rfid = GenerationEvaluation.Compare(realEmbedded, reconstructions).Fid;
        times.Add("evaluation", Stopwatch.GetElapsedTime(evaluationStart).TotalSeconds);
        long samplingStart = Stopwatch.GetTimestamp();
        log($"[{name}] sampling {plan.Samples} images (cfg 1.5) for FID");
        var labels = Enumerable.Range(0, plan.Samples).Select(i => i % train.NumClasses).ToArray();
        var samples = SampleImages.Run(gptTrainer.Model, tok, labels, new SamplingOptions { CfgScale = 1.5f }, new Rng(o.Seed + 1), 100,
            Path.Combine(gptDir, "samples"), columns: 10, quiet: o.Quiet);
        var generation = GenerationEvaluation.Compare(realEmbedded, samples.Images);
        // A one-row-per-class grid of the first samples for the report.
        SampleImages.Run(gptTrainer.Model, tok, Enumerable.Range(0, Math.Min(10, train.NumClasses)).SelectMany(c => Enumerable.Repeat(c, 8)).ToArray(),
            new SamplingOptions { CfgScale = 1.5f }, new Rng(o.Seed + 2), 80, Path.Combine(gptDir, "samples-per-class"), columns: 8, quiet: true);
        TokenizerEvaluation.SaveReconstructionGrid(tok.Model, test, tok.Config.Pad, 16, Path.Combine(tokDir, "images", "recon-test.png"));
        times.Add("sampling and FID", Stopwatch.GetElapsedTime(samplingStart).TotalSeconds);
        var arm = new DemoArm(name, tokResult, recon, rfid, gptResult, modelability, generation, tokDir, gptDir);
        var summary = new JsonObject
        {
            ["psnr"] = recon.Psnr, ["ssim"] = recon.Ssim, ["rfid"] = rfid, ["crt_val_loss"] = recon.CrtLoss,
            ["ce_per_token"] = modelability.CePerToken, ["bits_per_image"] = modelability.BitsPerImage,
            ["fid"] = generation.Fid, ["is"] = generation.IsMean, ["precision"] = generation.Precision, ["recall"] = generation.Recall,
            ["tokenizer_flops"] = crt ? tokResult.TrainingFlops : tokResult.TokenizerOnlyFlops, ["tokenizer_steps"] = tokResult.Steps, ["gpt_flops"] = gptResult.TrainingFlops,
        };
        AtomicFile.WriteAllText(Path.Combine(o.Out, $"summary-{name}.json"), summary.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
        return arm;
    }

    /// <summary>What the table says about each half of the paper's trade-off, in words, from the measured numbers of one replicate.</summary>
    public static string Reading(DemoArm b, DemoArm c)
    {
        string F(double v, string f) => v.ToString(f, CultureInfo.InvariantCulture);
        double dPsnr = c.Reconstruction.Psnr - b.Reconstruction.Psnr;
        string recon = dPsnr < 0
            ? $"Reconstruction: CRT is worse, as the paper expects ({F(-dPsnr, "F2")} dB lower PSNR, rFID {F(b.RFid, "F1")} → {F(c.RFid, "F1")})."
            : $"Reconstruction: CRT is not worse here ({F(dPsnr, "F2")} dB higher PSNR, rFID {F(b.RFid, "F1")} → {F(c.RFid, "F1")}).";
        double bits = 1 - c.Modelability.BitsPerImage / b.Modelability.BitsPerImage;
        string model = bits > 0
            ? $"Modelability: CRT's tokens are easier to model, {F(100 * bits, "F0")}% fewer bits per image under the same GPT at the same compute."
            : $"Modelability: CRT's tokens are not easier to model here ({F(-100 * bits, "F0")}% more bits per image).";
        string gen = $"Generation: CRT's FID is {(c.Generation.Fid < b.Generation.Fid ? "lower (better)" : "higher (worse)")} in this run " +
            $"({F(b.Generation.Fid, "F1")} → {F(c.Generation.Fid, "F1")}).";
        return $"{recon} {model} {gen}";
    }

    /// <summary>
    /// Claim 3 at the demo's budget, by the rule declared in docs/results.md: baseline FID − CRT FID paired by seed, with its
    /// 95% Student-t interval; one seed gives no interval and so no verdict.
    /// </summary>
    public static string Verdict(IReadOnlyList<DemoReplicate> replicates)
    {
        var inv = CultureInfo.InvariantCulture;
        var d = Scaling.MeanInterval.Of(replicates.Select(r => r.Baseline.Generation.Fid - r.Crt.Generation.Fid));
        if (d.N < 2)
            return $"Claim 3 (better generation at equal compute) is not decided by one seed: baseline FID − CRT FID = {d.Mean.ToString("F1", inv)} here, " +
                "and FID moves between seeds by as much as such gaps (the noise study in docs/results.md). `crt demo --seeds 3` gives a 95% interval " +
                "at this budget; docs/results.md gives the verdict over seeds at larger compute.";
        string verdict = d.Low > 0 ? "CRT's FID is lower: claim 3 reproduces at this budget"
            : d.High < 0 ? "the baseline's FID is lower: claim 3 does not reproduce at this budget"
            : "undecided: the interval includes 0";
        return $"Claim 3 over {d.N} seeds: baseline FID − CRT FID = {d.Format("F1")} (95% interval [{d.Low.ToString("F1", inv)}, {d.High.ToString("F1", inv)}]): {verdict}. " +
            $"CRT's FID is lower in {replicates.Count(r => r.Crt.Generation.Fid < r.Baseline.Generation.Fid)} of {d.N} seeds.";
    }

    private static string WriteReport(Options o, Plan plan, TrainedFeatureNet fn, IReadOnlyList<DemoReplicate> replicates, double seconds, StageTimes times)
    {
        var (b, c) = (replicates[0].Baseline, replicates[0].Crt);
        string F(double v, string f = "F3") => v.ToString(f, CultureInfo.InvariantCulture);
        var r = new HtmlReport($"crt demo: Causally Regularized Tokenization vs baseline on {o.Data}");
        var ramp = ArmConfig(true, TokenizerTrainConfig.ForPreset("vq-tiny") with { Data = o.Data, Flip = o.Flip }, plan, o).Crt;
        string overrides = o.CrtSet is { Count: > 0 } sets ? $", with {string.Join(", ", sets)}" : "";
        r.Paragraph($"Budget {o.Budget}: tokenizers {plan.TokenizerSteps} baseline steps (the CRT tokenizer{overrides}, λ_max {F(ramp.LambdaMax, "G3")} ramped over {ramp.RampSteps} steps " +
            $"and so at λ {F(ramp.Lambda(c.Tokenizer.Steps), "G3")} by its last step, gets the same FLOPs: {c.Tokenizer.Steps} steps, " +
            $"its regulariser costs +{F(100 * c.Tokenizer.RegularizerFlopFraction, "F1")}% per step), GPT gpt-t2 {plan.GptSteps} steps on each token set (lr 3e-4, raised from LlamaGen's 1e-4 for so short a run), " +
            $"evaluation on {plan.EvalImages} images, {plan.Samples} samples per model. Augmentation: {FlipSetting.Describe(o.Flip, o.Data)}" +
            $"{(FlipSetting.Resolve(o.Flip, o.Data) ? " (tokenizer training, and the GPT's tokens are of the originals and their mirror images)" : "")}. Wall time {F(seconds / 60, "F1")} min on {MachineInfo.Describe()}, {DateTime.UtcNow:yyyy-MM-dd}: {times.Describe(seconds)}.");
        r.Heading("The trade-off");
        r.Paragraph(Verdict(replicates));
        if (replicates.Count > 1)
        {
            r.Table(new[] { "seed", "baseline FID", "CRT FID", "baseline − CRT", "baseline CE", "CRT CE", "baseline PSNR", "CRT PSNR" }, replicates.Select(x => new[]
            {
                x.Seed.ToString(CultureInfo.InvariantCulture), F(x.Baseline.Generation.Fid, "F2"), F(x.Crt.Generation.Fid, "F2"),
                F(x.Baseline.Generation.Fid - x.Crt.Generation.Fid, "F2"), F(x.Baseline.Modelability.CePerToken, "F4"), F(x.Crt.Modelability.CePerToken, "F4"),
                F(x.Baseline.Reconstruction.Psnr, "F2"), F(x.Crt.Reconstruction.Psnr, "F2"),
            }).ToArray());
            r.Paragraph($"Below: the replicate with seed {replicates[0].Seed} in detail.");
        }
        r.Paragraph(Reading(b, c));
        r.Table(new[] { "measure", "baseline", "CRT", "better when" }, new[]
        {
            new[] { "tokenizer training FLOPs (baseline: without its λ = 0 probe)", F(b.Tokenizer.TokenizerOnlyFlops, "G3"), F(c.Tokenizer.TrainingFlops, "G3"), "equal" },
            new[] { "tokenizer steps", b.Tokenizer.Steps.ToString(CultureInfo.InvariantCulture), c.Tokenizer.Steps.ToString(CultureInfo.InvariantCulture), "" },
            new[] { "CRT loss on test latents (predictability; lower = easier)", F(b.Reconstruction.CrtLoss ?? double.NaN, "F5"), F(c.Reconstruction.CrtLoss ?? double.NaN, "F5"), "" },
            new[] { "PSNR (dB, test)", F(b.Reconstruction.Psnr, "F2"), F(c.Reconstruction.Psnr, "F2"), "higher" },
            new[] { "SSIM (test)", F(b.Reconstruction.Ssim, "F4"), F(c.Reconstruction.Ssim, "F4"), "higher" },
            new[] { $"rFID ({fn.Name})", F(b.RFid, "F3"), F(c.RFid, "F3"), "lower" },
            new[] { "codebook usage", F(100 * b.Reconstruction.CodebookUsage, "F1") + "%", F(100 * c.Reconstruction.CodebookUsage, "F1") + "%", "" },
            new[] { "code entropy (bits)", F(b.Reconstruction.CodeEntropyBits, "F2"), F(c.Reconstruction.CodeEntropyBits, "F2"), "" },
            new[] { "GPT training FLOPs", F(b.Gpt.TrainingFlops, "G3"), F(c.Gpt.TrainingFlops, "G3"), "equal" },
            new[] { "GPT val CE per token (nats)", F(b.Modelability.CePerToken, "F4"), F(c.Modelability.CePerToken, "F4"), "lower" },
            new[] { "GPT val CE, position 0", F(b.Modelability.CePosition0, "F4"), F(c.Modelability.CePosition0, "F4"), "lower" },
            new[] { "bits per image", F(b.Modelability.BitsPerImage, "F1"), F(c.Modelability.BitsPerImage, "F1"), "lower" },
            new[] { $"FID ({fn.Name}, {b.Generation.Generated} samples vs {b.Generation.Real} test)", F(b.Generation.Fid, "F3"), F(c.Generation.Fid, "F3"), "lower" },
            new[] { $"IS ({fn.Name})", F(b.Generation.IsMean, "F3"), F(c.Generation.IsMean, "F3"), "higher" },
            new[] { "precision / recall (k = 3)", $"{F(b.Generation.Precision)} / {F(b.Generation.Recall)}", $"{F(c.Generation.Precision)} / {F(c.Generation.Recall)}", "higher" },
        });
        r.Raw($"<p class=\"note\">Feature network {fn.Name}: a classifier trained in this project on the training split (test accuracy {F(100 * fn.TestAccuracy, "F2")}%); " +
              "FID and IS here are computed on its features and softmax, not on InceptionV3, and are not comparable with published FIDs.</p>");
        r.Heading("Cross-entropy per position (validation)");
        r.Svg(new SvgChart { Title = "GPT validation CE per token position", XLabel = "position (raster order)", YLabel = "CE (nats)" }
            .Add("baseline", Enumerable.Range(0, b.Modelability.CePerPosition.Length).Select(i => (double)i), b.Modelability.CePerPosition)
            .Add("CRT", Enumerable.Range(0, c.Modelability.CePerPosition.Length).Select(i => (double)i), c.Modelability.CePerPosition).Render());
        r.Heading("Training curves");
        List<RunSummary> Arms(string baseDir, string crtDir) =>
            new() { RunSummary.Load(baseDir) with { Name = "baseline" }, RunSummary.Load(crtDir) with { Name = "CRT" } };
        r.Svg(RunReport.Curves("Tokenizer reconstruction loss", Arms(b.RunDir, c.RunDir), x => x.Train, "rec_loss", "step", xLabel: "tokenizer step"));
        r.Svg(RunReport.Curves("GPT training loss against compute", Arms(b.GptDir, c.GptDir), x => x.Train, "loss", "flops", logX: true));
        r.Heading("Reconstructions (test; top: originals, bottom: reconstructions)");
        r.Images(new[] { ("baseline", Path.Combine(b.RunDir, "images", "recon-test.png")), ("CRT", Path.Combine(c.RunDir, "images", "recon-test.png")) });
        r.Heading("Samples (one row per class, cfg 1.5)");
        r.Images(new[] { ("baseline", Path.Combine(b.GptDir, "samples-per-class", "grid.png")), ("CRT", Path.Combine(c.GptDir, "samples-per-class", "grid.png")) });
        var path = Path.Combine(o.Out, "report.html");
        r.Save(path);
        return path;
    }
}
