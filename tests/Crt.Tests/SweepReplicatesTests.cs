using Crt.Scaling;
using Xunit;

namespace Crt.Tests;

/// <summary>replicates.md from recorded points alone (no training): the intervals, the paired differences and the declared selection rule.</summary>
public sealed class SweepReplicatesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-replicates-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private SweepPlan Plan()
    {
        var path = Path.Combine(_dir, "plan.json");
        File.WriteAllText(path, """
            { "seeds": [0, 1, 2], "baseline": "base", "crt": "l4",
              "tokenizers": [ { "name": "base", "preset": "vq-tiny", "set": { "crt.lambda_max": 0 } },
                              { "name": "l4", "preset": "vq-tiny", "set": { "crt.lambda_max": 4 } },
                              { "name": "l1", "preset": "vq-tiny", "set": { "crt.lambda_max": 1 } },
                              { "name": "l2", "preset": "vq-tiny", "set": { "crt.lambda_max": 2 } } ],
              "gpt": { "presets": ["gpt-t1", "gpt-t2"], "steps": [10, 20] } }
            """);
        return SweepPlan.Load(path);
    }

    /// <summary>Records, per replicate, the given FID (plus a replicate offset) for every arm at every point; tokenizer FLOPs per arm.</summary>
    private void Record(SweepPlan plan, Func<string, int, double> fid, Func<string, double> tokenizerFlops, Func<string, int, double>? usage = null,
        Func<string, int, bool>? missing = null)
    {
        usage ??= (arm, _) => arm switch { "base" => 0.9, "l1" => 0.5, "l2" => 0.3, _ => 0.1 };
        for (int r = 0; r < plan.Replicates.Count; r++)
        {
            var log = new PointLog(Path.Combine(Directory.CreateDirectory(Path.Combine(_dir, plan.Replicates[r].FolderName)).FullName, "points.jsonl"));
            foreach (var t in plan.Tokenizers) // points count only beside the record of the tokenizer they were made on
                log.Append(new TokenizerRecord { Name = t.Name, Sha256 = t.Name, RunDir = "", Preset = "vq-tiny", FeatureNet = "test", TrainingFlops = tokenizerFlops(t.Name), Psnr = 20 + r,
                    CodebookUsage = usage(t.Name, r) });
            foreach (var (t, preset, steps) in plan.Points().Where(p => missing?.Invoke(p.Tokenizer.Name, r) != true))
                log.Append(new PointRecord
                {
                    Tokenizer = t.Name, TokenizerSha256 = t.Name, Gpt = preset, Steps = steps, TokenizerFlops = tokenizerFlops(t.Name),
                    GptFlops = steps * (preset == "gpt-t2" ? 1e9 : 1e8), CePerToken = 2 + r * 0.01, Fid = fid(t.Name, r) + (preset == "gpt-t2" ? 0 : 50) + (20 - steps),
                });
        }
    }

    [Fact]
    public void TheLowestMeanFidAtTheTopComputeIsSelectedAndTiesKeepTheDefault()
    {
        var plan = Plan();
        // l2 is clearly best; l1 and l4 are far behind
        Record(plan, (arm, r) => arm switch { "l2" => 10, "l1" => 30, "l4" => 31, _ => 40 } + r, _ => 1e12);
        var md = File.ReadAllText(SweepReplicates.WriteSummary(plan, _dir));
        Assert.Contains("At gpt-t2, 20 steps", md);
        Assert.Contains("**Selected: l2**.", md);
        Assert.Contains("| l2 | 11.00 ± 2.48 | yes |", md); // 10, 11, 12: mean 11, t(0.975, 2)·1/√3 = 2.48
        Assert.Contains("| base | gpt-t2 | 20 | 3 |", md);
        Assert.Contains("baseline FID − CRT FID = 9.00 ± 0.00 over 3 replicates", md); // base 40+r vs l4 31+r
        Assert.Contains("claim 3 reproduces at this compute", md);
        // Every arm against the default (l4), paired: l2 − l4 = 10 − 31 in every replicate.
        Assert.Contains("| l2 | 3 | 21.00 ± 2.48 | ", md);
        Assert.Contains("| 11.00 ± 2.48 | -21.00 ± 0.00 | 0.0000 ± 0.0000 |", md);
        Assert.Contains("The λ arms: l1 (λ_max 1), l2 (λ_max 2), l4 (λ_max 4)", md); // the baseline (λ 0) is not one
        Assert.Contains("**Claim 5: reproduces: λ_max 2 is better than both ends", md);
        Assert.Contains("| tokenizer seed 0, GPT seed 0 | 90.0 % | 50.0 % | 30.0 % | 10.0 % |", md);
        Assert.Contains("**Usage falls as λ_max rises in all 3 replicates: λ collapses the codebook.**", md);
        // The selected arm is not the default, so claim 3 is read again against it, as declared: base 40+r vs l2 10+r.
        Assert.Contains("## base − l2, paired by replicate (the selected configuration", md);
        Assert.Contains("baseline FID − CRT FID = 30.00 ± 0.00 over 3 replicates", md);
    }

    [Fact]
    public void WhileAnArmLacksAReplicateTheLeaderIsOnlyProvisional()
    {
        var plan = Plan();
        // l2 leads, but l1 has no points in the third replicate yet
        Record(plan, (arm, r) => arm switch { "l2" => 10, "l1" => 30, "l4" => 31, _ => 40 } + r, _ => 1e12, missing: (arm, r) => arm == "l1" && r == 2);
        var md = File.ReadAllText(SweepReplicates.WriteSummary(plan, _dir));
        Assert.Contains("**Provisional leader: l2**. Not a selection: 8 of the 9 arm-replicates have an FID at this point", md);
        Assert.DoesNotContain("**Selected:", md);
        Assert.DoesNotContain("(the selected configuration", md); // claim 3 stays on the default until a selection exists
    }

    [Fact]
    public void WithOneReplicateClaimFiveSaysThereIsNoInterval()
    {
        var plan = Plan();
        Record(plan, (arm, r) => arm switch { "l2" => 10, "l1" => 30, "l4" => 31, _ => 40 }, _ => 1e12, missing: (_, r) => r > 0);
        var md = File.ReadAllText(SweepReplicates.WriteSummary(plan, _dir));
        Assert.Contains("**Claim 5: not seen: λ_max 2 has the lowest FID, but one replicate gives no interval.**", md);
    }

    [Fact]
    public void AnArmInsideTheWinnersIntervalIsTiedAndTheDefaultStaysAmongTies()
    {
        var plan = Plan();
        // l1 has the lowest mean but a wide interval; the default l4 lies inside it; l2 lies outside
        Record(plan, (arm, r) => arm switch { "l1" => new[] { 10.0, 20, 30 }[r], "l4" => 22, "l2" => 60, _ => 70 }, arm => arm == "l4" ? 2e12 : 1e12);
        var md = File.ReadAllText(SweepReplicates.WriteSummary(plan, _dir));
        Assert.Contains("**Selected: l4** (2 arms tied; the default is among them and stays)", md);
        Assert.Contains("| l2 | 60.00 ± 0.00 | no |", md);
        Assert.Contains("**Claim 5: not seen: the lowest mean FID is at λ_max 1, an end of the swept range.**", md);

        // One replicate where usage rises from λ_max 2 to 4: the collapse is not stated.
        Record(plan, (arm, r) => 10, _ => 1e12, (arm, r) => arm switch { "base" => 0.9, "l1" => 0.5, "l2" => 0.3, _ => r == 1 ? 0.4 : 0.1 });
        md = File.ReadAllText(SweepReplicates.WriteSummary(plan, _dir));
        Assert.Contains("Usage does not fall with λ_max in every one of the 3 replicates", md);
    }

    [Fact]
    public void AmongTiesWithoutTheDefaultTheCheapestIsSelected()
    {
        var plan = Plan();
        Record(plan, (arm, r) => arm switch { "l1" => new[] { 10.0, 20, 30 }[r], "l2" => 22, "l4" => 90, _ => 70 }, arm => arm == "l1" ? 3e12 : 1e12);
        var md = File.ReadAllText(SweepReplicates.WriteSummary(plan, _dir));
        Assert.Contains("**Selected: l2** (2 arms tied; the cheapest of them, by 196.1% of the total compute)", md);

        // Costs that differ by 0.05%, as step counts rounded to the baseline's tokenizer FLOPs do: the report says so.
        Record(plan, (arm, r) => arm switch { "l1" => new[] { 10.0, 20, 30 }[r], "l2" => 22, "l4" => 90, _ => 70 }, arm => arm == "l1" ? 1.0005e12 : 1e12);
        md = File.ReadAllText(SweepReplicates.WriteSummary(plan, _dir));
        Assert.Contains("**Selected: l2** (2 arms tied; the cheapest of them, by 0.049% of the total compute: the arms' costs differ only by the rounding", md);
    }

    [Fact]
    public void TheComputeRatioIsTheGeometricMeanOfEachReplicatesOwnRatio()
    {
        var plan = Plan();
        // FID falls by 10 per doubling of GPT compute; l4 is ahead of the baseline by a factor 2^(1 + r/2) of compute in
        // replicate r (ratios 2, 2.83, 4): geometric mean 2.83, log-ratio SD 0.347.
        for (int r = 0; r < plan.Replicates.Count; r++)
        {
            var log = new PointLog(Path.Combine(Directory.CreateDirectory(Path.Combine(_dir, plan.Replicates[r].FolderName)).FullName, "points.jsonl"));
            foreach (var t in plan.Tokenizers)
            {
                log.Append(new TokenizerRecord { Name = t.Name, Sha256 = t.Name, RunDir = "", Preset = "vq-tiny", FeatureNet = "test", TrainingFlops = 1e12 });
                double ahead = t.Name == "l4" ? 1 + r / 2.0 : t.Name == "base" ? 0 : 0.5;
                foreach (var (_, preset, steps) in plan.Points().Where(p => p.Tokenizer.Name == t.Name))
                {
                    double flops = steps * (preset == "gpt-t2" ? 1e9 : 1e8);
                    log.Append(new PointRecord { Tokenizer = t.Name, TokenizerSha256 = t.Name, Gpt = preset, Steps = steps, TokenizerFlops = 1e12, GptFlops = flops,
                        CePerToken = 2, Fid = 200 - 10 * (Math.Log2(flops / 1e9) + ahead) });
                }
            }
        }
        var md = File.ReadAllText(SweepReplicates.WriteSummary(plan, _dir));
        var table = md[md.IndexOf("| FID target |", StringComparison.Ordinal)..];
        var rows = table[..table.IndexOf("\n\n", StringComparison.Ordinal)].Split('\n').Skip(2).ToList();
        Assert.Equal(5, rows.Count);
        // A target inside both frontiers of every replicate: all three ratios, geometric mean 2^1.5 = 2.83,
        // interval exp(1.5·ln 2 ± 4.303·0.3466/√3) = [1.20, 6.69].
        Assert.Equal("| 170.9 | 3 | 2.83 | [1.20, 6.69] |", rows[2]);
        Assert.All(rows.Skip(1), l => Assert.EndsWith("| 3 | 2.83 | [1.20, 6.69] |", l));
        // The highest FID target lies above replicate 2's l4 frontier (its first point is already at 180): no ratio there.
        Assert.Equal("| 185.0 | 2 | 2.38 | [0.26, 21.50] |", rows[0]);
    }

    [Fact]
    public void TheSummaryNamesTheFeatureNetworksAndWarnsWhenThereAreSeveral()
    {
        string a = new string('a', 64), b = new string('b', 64);
        Assert.Equal("Every FID and rFID here is under one feature network (weights SHA-256 `aaaaaaaaaaaa`…).", SweepReplicates.FeatureNets([a, a]));
        var mixed = SweepReplicates.FeatureNets([a, b, b, null]);
        Assert.StartsWith("**These records were measured under 3 feature networks**", mixed);
        Assert.Contains("`bbbbbbbbbbbb`: 2 records", mixed);
        Assert.Contains("not recorded: 1 records", mixed);
        Assert.Equal("No record measures FID yet.", SweepReplicates.FeatureNets([]));
    }
}
