using System.Text.Json.Nodes;
using Crt.Training;
using Xunit;

namespace Crt.Tests;

/// <summary>
/// crt demo end to end at a tiny budget on a small synthetic dataset (the built-in one would first train
/// its feature net for a minute): both arms at equal compute, the report, and a rerun that trains nothing.
/// </summary>
[Collection("console")]
public sealed class DemoTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-demo-").FullName;

    public DemoTests() => Environment.SetEnvironmentVariable("CRT_CACHE", Path.Combine(_dir, "cache"));

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("CRT_CACHE", null);
        Directory.Delete(_dir, recursive: true);
    }

    private static JsonNode Summary(string dir, string arm) => JsonNode.Parse(File.ReadAllText(Path.Combine(dir, $"summary-{arm}.json")))!;

    [Fact]
    public void ATinyDemoComparesBothArmsAtEqualComputeAndContinuesWithoutRetraining()
    {
        var data = StripesDataset.Write(Path.Combine(_dir, "stripes"), 6000, 600);
        var outDir = Path.Combine(_dir, "demo");
        var options = new Demo.Options(Budget: 0.01, Out: outDir, Quiet: true, Data: data);
        var log = new List<string>();
        var outcome = Demo.Run(options, CancellationToken.None, log.Add);
        var (baseline, crt, report) = (outcome.Baseline, outcome.Crt, outcome.Report);
        // The last line says where the wall time went, stage by stage.
        Assert.StartsWith("time by stage, both arms: feature net ", log[^1]);
        foreach (var stage in new[] { "tokenizer training ", "tokenization ", "GPT training ", "evaluation ", "sampling and FID ", "other " })
            Assert.Contains(stage, log[^1]);

        // Stage 1 at equal compute: CRT takes fewer steps for the regulariser's FLOPs, to within one step.
        Assert.Equal(20, baseline.Tokenizer.Steps);
        Assert.True(crt.Tokenizer.Steps < baseline.Tokenizer.Steps);
        double crtStep = crt.Tokenizer.TrainingFlops / crt.Tokenizer.Steps;
        Assert.InRange(baseline.Tokenizer.TokenizerOnlyFlops - crt.Tokenizer.TrainingFlops, 0, crtStep);
        // Stage 2: the same GPT for the same steps on each token set.
        Assert.Equal(baseline.Gpt.TrainingFlops, crt.Gpt.TrainingFlops);
        Assert.True(baseline.Reconstruction.CrtLoss is > 0 && crt.Reconstruction.CrtLoss is > 0, "both arms report the CRT loss (the baseline through its λ = 0 probe)");
        Assert.Equal(64, baseline.Modelability.CePerPosition.Length);
        Assert.True(double.IsFinite(baseline.Generation.Fid) && double.IsFinite(crt.Generation.Fid) && baseline.Generation.Generated == 200);

        var html = File.ReadAllText(report);
        foreach (var part in new[] { "The trade-off", "Reconstruction: CRT", "Modelability: CRT", "Generation: ", "is not decided by one seed", "Cross-entropy per position", "<svg", "data:image/png;base64," })
            Assert.Contains(part, html);
        Assert.Equal(crt.Generation.Fid, (double)Summary(outDir, "crt")["fid"]!, 9);

        // Run again: every training stage is found complete (no checkpoint rewritten) and the numbers repeat.
        var checkpoints = Directory.GetFiles(outDir, "*.safetensors", SearchOption.AllDirectories).ToDictionary(f => f, File.GetLastWriteTimeUtc);
        var again = Demo.Run(options, CancellationToken.None, _ => { });
        var (b2, c2) = (again.Baseline, again.Crt);
        Assert.Equal(checkpoints, Directory.GetFiles(outDir, "*.safetensors", SearchOption.AllDirectories).ToDictionary(f => f, File.GetLastWriteTimeUtc));
        Assert.Equal(baseline.Modelability.CePerToken, b2.Modelability.CePerToken, 9);
        Assert.Equal(crt.Generation.Fid, c2.Generation.Fid, 6);

        // The same folder with another CRT arm: refused before anything is trained, naming the tokenizer's config.
        var other = Assert.Throws<ArgumentException>(() => Demo.Run(options with { CrtSet = ["crt.ramp_steps=250"] }, CancellationToken.None, _ => { }));
        Assert.Contains(Path.Combine(outDir, "tokenizer-crt", "config.json"), other.Message);
        Assert.Contains("other crt settings", other.Message);
        Assert.Equal(checkpoints, Directory.GetFiles(outDir, "*.safetensors", SearchOption.AllDirectories).ToDictionary(f => f, File.GetLastWriteTimeUtc));
    }

    [Fact]
    public void CrtSetChangesTheCrtArmAloneAndNotWhatTheDemoFixesForBoth()
    {
        var data = TokenizerTrainConfig.ForPreset("vq-tiny");
        var plan = Demo.Plan.For(1);
        var o = new Demo.Options(CrtSet: ["crt.ramp_steps=250", "model.entropy_loss_ratio=0.1"]);
        var crt = Demo.ArmConfig(true, data, plan, o);
        var baseline = Demo.ArmConfig(false, data, plan, o);
        Assert.Equal((250, 0.1f, 4f), (crt.Crt.RampSteps, crt.Model.EntropyLossRatio, crt.Crt.LambdaMax));
        Assert.Equal((1000, 0f, 0f), (baseline.Crt.RampSteps, baseline.Model.EntropyLossRatio, baseline.Crt.LambdaMax));
        Assert.Equal(plan.TokenizerSteps, crt.MatchBaselineSteps); // equal compute still holds

        var own = Assert.Throws<ArgumentException>(() => Demo.ArmConfig(true, data, plan, o with { CrtSet = ["steps=5000"] }));
        Assert.Equal("--crt-set steps=5000: the demo sets steps itself, the same for both arms", own.Message);
        var unknown = Assert.Throws<ArgumentException>(() => Demo.ArmConfig(true, data, plan, o with { CrtSet = ["crt.lamda_max=2"] }));
        Assert.StartsWith("--crt-set: ", unknown.Message);
        Assert.Contains("lamda_max", unknown.Message);

        // The demo refuses a bad --crt-set before its baseline arm trains, not after.
        var outDir = Path.Combine(_dir, "demo-bad-set");
        Assert.Throws<ArgumentException>(() => Demo.Run(o with { Out = outDir, CrtSet = ["steps=5"] }, CancellationToken.None, _ => { }));
        Assert.False(Directory.Exists(Path.Combine(outDir, "tokenizer-baseline")));
    }

    [Fact]
    public void SeveralSeedsRunInTheirOwnFoldersAndGiveClaimThreeAnInterval()
    {
        var data = StripesDataset.Write(Path.Combine(_dir, "stripes"), 6000, 600);
        var outDir = Path.Combine(_dir, "demo-seeds");
        var outcome = Demo.Run(new Demo.Options(Budget: 0.01, Out: outDir, Quiet: true, Data: data, Seed: 5, Seeds: 2), CancellationToken.None, _ => { });
        Assert.Equal(new ulong[] { 5, 6 }, outcome.Replicates.Select(r => r.Seed));
        foreach (var r in outcome.Replicates)
            Assert.Equal(r.Crt.Generation.Fid, (double)Summary(Path.Combine(outDir, $"seed-{r.Seed}"), "crt")["fid"]!, 9);
        Assert.NotEqual(outcome.Replicates[0].Baseline.Generation.Fid, outcome.Replicates[1].Baseline.Generation.Fid); // the seeds differ

        var d = outcome.Replicates.Select(r => r.Baseline.Generation.Fid - r.Crt.Generation.Fid).ToArray();
        var interval = Crt.Scaling.MeanInterval.Of(d);
        string verdict = Demo.Verdict(outcome.Replicates);
        Assert.Contains($"Claim 3 over 2 seeds: baseline FID − CRT FID = {interval.Format("F1")}", verdict);
        Assert.Contains(interval.Low > 0 ? "claim 3 reproduces" : interval.High < 0 ? "does not reproduce" : "undecided", verdict);
        var html = File.ReadAllText(outcome.Report);
        Assert.Contains("Claim 3 over 2 seeds", html);
        Assert.Contains("the replicate with seed 5 in detail", html);
    }
}
