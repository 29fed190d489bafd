using Crt.Scaling;
using Xunit;

namespace Crt.Tests;

/// <summary>Sweep plans: what is accepted, what is rejected (one sentence naming the file, unknown keys with the valid ones), and the committed plans.</summary>
public sealed class ScalingPlanTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-plan-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Minimal = """
        { "tokenizers": [ { "name": "a", "preset": "vq-tiny" }, { "name": "b", "preset": "vq-tiny", "set": { "crt.lambda_max": 1 } } ],
          "gpt": { "presets": ["gpt-t1"], "steps": [10, 20] } }
        """;

    private string Write(string json, string name = "plan.json")
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, json);
        return path;
    }

    private ArgumentException Rejected(string json) => Assert.Throws<ArgumentException>(() => SweepPlan.Load(Write(json)));

    [Fact]
    public void UnknownKeysAreRejectedWithTheValidOnesAtEveryLevel()
    {
        var top = Rejected(Minimal.Replace("\"tokenizers\"", "\"gpus\": 8, \"tokenizers\""));
        Assert.StartsWith(Path.Combine(_dir, "plan.json") + ":", top.Message);
        Assert.Contains("unknown key 'gpus' in the plan; valid keys: description, data, seed, seeds, baseline, crt, tokenizers, tokenize, gpt, eval", top.Message);

        var tok = Rejected(Minimal.Replace("\"name\": \"b\",", "\"name\": \"b\", \"lamda\": 4,"));
        Assert.Contains("unknown key 'lamda' in tokenizers[1]; valid keys: name, run, preset, config, set, compare_to", tok.Message);

        var gpt = Rejected(Minimal.Replace("\"steps\": [10, 20]", "\"steps\": [10, 20], \"warmup\": 5"));
        Assert.Contains("unknown key 'warmup' in gpt; valid keys: presets, steps, batch_size, lr, checkpoint_every, set", gpt.Message);

        var steps = Rejected(Minimal.Replace("[10, 20]", "{ \"first\": 10, \"last\": 80, \"n\": 4 }"));
        Assert.Contains("unknown key 'n' in gpt.steps; valid keys: first, last, count", steps.Message);

        // A tokenizer's overrides are config keys: the config's own list of valid keys.
        var set = Rejected(Minimal.Replace("\"crt.lambda_max\": 1", "\"crt.lambda\": 1"));
        Assert.Contains("tokenizers[1] ('b')", set.Message);
        Assert.Contains("unknown config key 'crt.lambda'", set.Message);
        Assert.Contains("crt.lambda_max", set.Message);
    }

    [Fact]
    public void BadValuesAreOneSentenceNamingWhere()
    {
        Assert.Contains("unknown GPT preset 'gpt-t9'", Rejected(Minimal.Replace("gpt-t1", "gpt-t9")).Message);
        Assert.Contains("must be positive and increasing", Rejected(Minimal.Replace("[10, 20]", "[20, 10]")).Message);
        Assert.Contains("baseline names tokenizer 'c'", Rejected(Minimal.Replace("\"tokenizers\"", "\"baseline\": \"c\", \"tokenizers\"")).Message);
        Assert.Contains("two tokenizers are named 'a'", Rejected(Minimal.Replace("\"name\": \"b\"", "\"name\": \"a\"")).Message);
        Assert.Contains("'steps' is set by the sweep itself", Rejected(Minimal.Replace("\"steps\": [10, 20]", "\"steps\": [10, 20], \"set\": { \"steps\": 5 }")).Message);
        Assert.Contains("a reused run takes no preset", Rejected(Minimal.Replace("\"name\": \"a\", \"preset\": \"vq-tiny\"", "\"name\": \"a\", \"run\": \"x\", \"preset\": \"vq-tiny\"")).Message);
        Assert.Contains("eval.samples 1 must be 0 (no FID) or at least 2", Rejected(Minimal.Replace("\"gpt\"", "\"eval\": { \"samples\": 1 }, \"gpt\"")).Message);
        Assert.Contains("not valid JSON", Rejected("{ \"tokenizers\": [").Message);
    }

    [Fact]
    public void LogSpacedStepsRelativePathsAndTheRecordedCopy()
    {
        var path = Write(Minimal.Replace("[10, 20]", "{ \"first\": 50, \"last\": 800, \"count\": 5 }")
            .Replace("{ \"name\": \"a\", \"preset\": \"vq-tiny\" }", "{ \"name\": \"a\", \"run\": \"runs/tok-a\" }"));
        var plan = SweepPlan.Load(path);
        Assert.Equal(new long[] { 50, 100, 200, 400, 800 }, plan.Gpt.Steps);
        Assert.Equal(Path.Combine(_dir, "runs", "tok-a"), plan.Tokenizers[0].Run);
        Assert.Equal("a", plan.Baseline); // the first tokenizer unless named
        Assert.Equal(1f, plan.Tokenizers[1].Config!.Crt.LambdaMax);
        Assert.Equal(2 * 1 * 5, plan.PointCount);
        // Smallest GPTs first, every tokenizer at each size before the next size.
        Assert.Equal(("a", "gpt-t1", 50L), plan.Points().Select(p => (p.Tokenizer.Name, p.Preset, p.Steps)).First());

        var copy = SweepPlan.Load(Write(plan.ToJson(), "copy.json"));
        Assert.Equal(plan.ToJson(), copy.ToJson());
        Assert.Equal(plan.Gpt.Steps, copy.Gpt.Steps);
    }

    private static string Configs => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(TestData.File("sweep-micro.json"))!, "../../../configs"));

    [Fact]
    public void TheCommittedFashionMnistPlanTestsClaimsOneToFourAtEqualTokenizerCompute()
    {
        var plan = SweepPlan.Load(Path.Combine(Configs, "sweep-fashion-mnist.json"));
        Assert.Contains("minutes", plan.Description); // its estimated wall time and how it was estimated
        var baseline = plan.Tokenizer(plan.Baseline).Config!;
        var crt = plan.Tokenizer(plan.Crt!).Config!;
        Assert.Equal(baseline.Model, crt.Model with { ChannelMultipliers = baseline.Model.ChannelMultipliers });
        Assert.Equal(baseline.Model.ChannelMultipliers, crt.Model.ChannelMultipliers);
        Assert.True(baseline.Crt is { Enabled: true, LambdaMax: 0 }, "the baseline carries the regulariser as a λ = 0 probe");
        Assert.True(crt.Crt.LambdaMax > 0);
        Assert.Equal(baseline.Steps, crt.MatchBaselineSteps); // equal tokenizer compute
        Assert.Contains(plan.Tokenizers, t => t.Config is { } c && (c.Model.TokensPerImage < baseline.Model.TokensPerImage || c.Model.CodebookSize < baseline.Model.CodebookSize));
        Assert.InRange(plan.Gpt.Presets.Length, 3, 4);
        Assert.InRange(plan.Gpt.Steps.Length, 4, 6);
        Assert.True(plan.Eval.Samples > 0);
    }

    /// <summary>Claim 4's extension (declared in docs/results.md) changes nothing of the declared plan but the runs' length.</summary>
    [Fact]
    public void TheExtendedClaim4PlanIsTheDeclaredOneWithLongerRuns()
    {
        var declared = SweepPlan.Load(Path.Combine(Configs, "sweep-claim4.json"));
        var extended = SweepPlan.Load(Path.Combine(Configs, "sweep-claim4-extended.json"));
        Assert.Equal([.. declared.Gpt.Steps, 4000], extended.Gpt.Steps);
        var same = extended with { Path = declared.Path, Description = declared.Description, Gpt = extended.Gpt with { Steps = declared.Gpt.Steps } };
        Assert.Equal(declared.ToJson(), same.ToJson());
    }

    [Fact]
    public void TheNoisePlanIsTheStudyDeclaredInTheResults()
    {
        var plan = SweepPlan.Load(Path.Combine(Configs, "sweep-noise.json"));
        // three tokenizer seeds at one GPT seed, three GPT seeds on one tokenizer seed
        Assert.Equal([0UL, 1, 2], plan.Replicates.Where(r => r.GptSeed == 0).Select(r => r.TokenizerSeed));
        Assert.Equal([0UL, 1, 2], plan.Replicates.Where(r => r.TokenizerSeed == 0).Select(r => r.GptSeed));
        Assert.Equal((10000, 10000), (plan.Eval.Samples, plan.Eval.TestImages));
        Assert.Equal([500, 2000, 5000], plan.Eval.FidOfFirst);
        var (baseline, crt) = (plan.Tokenizer(plan.Baseline).Config!, plan.Tokenizer(plan.Crt!).Config!);
        Assert.True(baseline.Crt.LambdaMax == 0 && crt.Crt.LambdaMax == 4 && crt.MatchBaselineSteps == baseline.Steps);
    }

    [Fact]
    public void EveryCommittedPlanLoads()
    {
        var plans = Directory.GetFiles(Configs, "sweep-*.json");
        Assert.NotEmpty(plans);
        foreach (var p in plans) Assert.NotEmpty(SweepPlan.Load(p).Tokenizers);
    }

    [Fact]
    public void SeedsMakeReplicatesEachWithItsTokenizerAndGptSeed()
    {
        var one = SweepPlan.Load(Write(Minimal.Replace("\"tokenizers\"", "\"seed\": 5, \"tokenizers\"")));
        Assert.Equal([new SweepReplicate(5, 5)], one.Replicates);

        var list = SweepPlan.Load(Write(Minimal.Replace("\"tokenizers\"", "\"seeds\": [0, 1, 2], \"tokenizers\"")));
        Assert.Equal([new SweepReplicate(0, 0), new SweepReplicate(1, 1), new SweepReplicate(2, 2)], list.Replicates);

        var paired = SweepPlan.Load(Write(Minimal.Replace("\"tokenizers\"", "\"seeds\": { \"tokenizer\": [7, 7], \"gpt\": [1, 2] }, \"tokenizers\"")));
        Assert.Equal([new SweepReplicate(7, 1), new SweepReplicate(7, 2)], paired.Replicates);
        Assert.Equal("seed-t7-g2", paired.Replicates[1].FolderName);

        // A replicate's plan: GPTs at its GPT seed, tokenizers at its tokenizer seed, or reused when trained before.
        var second = paired.ForReplicate(paired.Replicates[1], name => name == "a" ? "/runs/a" : null);
        Assert.Equal(2UL, second.Seed);
        Assert.Equal("/runs/a", second.Tokenizers[0].Run);
        Assert.Equal(7UL, second.Tokenizers[1].Config!.Seed);
        Assert.Equal(1f, second.Tokenizers[1].Config!.Crt.LambdaMax); // the tokenizer's own settings stay

        // The recorded plan keeps the replicates, and reads back the same.
        var recorded = Write(paired.ToJson(), "recorded.json");
        Assert.Equal(paired.Replicates, SweepPlan.Load(recorded).Replicates);

        Assert.Contains("give either seed or seeds", Rejected(Minimal.Replace("\"tokenizers\"", "\"seed\": 1, \"seeds\": [1, 2], \"tokenizers\"")).Message);
        Assert.Contains("seeds.tokenizer has 2 seeds and seeds.gpt 1", Rejected(Minimal.Replace("\"tokenizers\"", "\"seeds\": { \"tokenizer\": [1, 2], \"gpt\": [1] }, \"tokenizers\"")).Message);
        Assert.Contains("seeds repeats a replicate", Rejected(Minimal.Replace("\"tokenizers\"", "\"seeds\": [3, 3], \"tokenizers\"")).Message);
        Assert.Contains("seeds must hold integers ≥ 0", Rejected(Minimal.Replace("\"tokenizers\"", "\"seeds\": [1, -2], \"tokenizers\"")).Message);
        Assert.Contains("tokenizer 'b' sets its own seed", Rejected(Minimal.Replace("\"tokenizers\"", "\"seeds\": [1, 2], \"tokenizers\"").Replace("\"crt.lambda_max\": 1", "\"crt.lambda_max\": 1, \"seed\": 4")).Message);
    }

    [Fact]
    public void FidOfFirstListsSampleCountsBelowTheSamples()
    {
        var plan = SweepPlan.Load(Write(Minimal.Replace("\"tokenizers\"", "\"eval\": { \"samples\": 1000, \"fid_of_first\": [500, 100, 500] }, \"tokenizers\"")));
        Assert.Equal([100, 500], plan.Eval.FidOfFirst);
        Assert.Equal([100, 500], SweepPlan.Load(Write(plan.ToJson(), "recorded.json")).Eval.FidOfFirst);
        Assert.Contains("eval.fid_of_first: 1000 is not below eval.samples 1000",
            Rejected(Minimal.Replace("\"tokenizers\"", "\"eval\": { \"samples\": 1000, \"fid_of_first\": [1000] }, \"tokenizers\"")).Message);
        Assert.Contains("eval.fid_of_first must list sample counts ≥ 2",
            Rejected(Minimal.Replace("\"tokenizers\"", "\"eval\": { \"fid_of_first\": [1] }, \"tokenizers\"")).Message);
    }

    [Fact]
    public void MeanIntervalIsTheStudentTIntervalOfTheMean()
    {
        var m = MeanInterval.Of([1.0, 2.0, 3.0]);
        Assert.Equal((3, 2.0, 1.0), (m.N, m.Mean, m.Sd));
        Assert.Equal(4.302653 / Math.Sqrt(3), m.HalfWidth, 5); // t(0.975, 2) = 4.302653
        Assert.Equal("2.00 ± 2.48", m.Format("F2"));
        Assert.Equal("5.0", MeanInterval.Of([5.0]).Format("F1"));
        Assert.Equal("–", MeanInterval.Of([]).Format("F1"));
    }
}
