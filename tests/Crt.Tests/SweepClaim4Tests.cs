using Crt.Scaling;
using Xunit;

namespace Crt.Tests;

/// <summary>Claim 4 in replicates.md, by the declared rule: equal-compute pairs of a 4×4 and an 8×8 code, then the fitted frontiers.</summary>
public sealed class SweepClaim4Tests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-claim4-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly long[] Steps = [250, 500, 1000, 2000];

    private SweepPlan Plan()
    {
        var path = Path.Combine(_dir, "plan.json");
        File.WriteAllText(path, """
            { "seeds": [0, 1, 2], "baseline": "b8",
              "tokenizers": [ { "name": "b8", "preset": "vq-tiny", "set": { "crt.lambda_max": 0 } },
                              { "name": "b4", "preset": "vq-tiny", "set": { "crt.lambda_max": 0 }, "compare_to": "b8" } ],
              "gpt": { "presets": ["gpt-t4"], "steps": [250, 500, 1000, 2000] } }
            """);
        return SweepPlan.Load(path);
    }

    /// <summary>
    /// Records both codes in every replicate: a 16-token code whose GPT step costs a quarter of the 64-token code's (1E+9 against
    /// 4E+9 FLOPs), so 1000 and 2000 steps of the one meet 250 and 500 of the other; FID(tokenizer, GPT FLOPs, replicate).
    /// </summary>
    private void Record(SweepPlan plan, Func<string, double, int, double> fid)
    {
        for (int r = 0; r < plan.Replicates.Count; r++)
        {
            var log = new PointLog(Path.Combine(Directory.CreateDirectory(Path.Combine(_dir, plan.Replicates[r].FolderName)).FullName, "points.jsonl"));
            foreach (var (name, tokens) in new[] { ("b8", 64), ("b4", 16) })
            {
                log.Append(new TokenizerRecord { Name = name, Sha256 = name, RunDir = "", Preset = "vq-tiny", FeatureNet = "test", TrainingFlops = 1e13,
                    TokensPerImage = tokens, CodebookSize = 512 });
                foreach (long steps in Steps)
                {
                    double flops = steps * (tokens == 64 ? 4e9 : 1e9);
                    log.Append(new PointRecord { Tokenizer = name, TokenizerSha256 = name, Gpt = "gpt-t4", Steps = steps, TokensPerImage = tokens, CodebookSize = 512,
                        TokenizerFlops = 1e13, GptFlops = flops, CePerToken = 2, Fid = fid(name, flops, r) });
                }
            }
        }
    }

    /// <summary>FID = L_min + a·(C / 1E+11)^−0.5, plus an offset per replicate shared by both codes.</summary>
    private static double Law(double lmin, double a, double flops, int r) => lmin + a * Math.Pow(flops / 1e11, -0.5) + 2 * (r - 1);

    [Fact]
    public void AFlipIsSeenWhereTheLargerCodesIntervalClearsZero()
    {
        var plan = Plan();
        // equal compute at 1E+12 (b4 1000 steps, b8 250): b4 better by 10; at 2E+12 (2000 / 500): b8 better by 9–10, in every replicate
        Record(plan, (name, flops, r) => (name, flops) switch
        {
            ("b4", 1e12) => 100 + r, ("b8", 1e12) => 110 + r,
            ("b4", 2e12) => 80 + r, ("b8", 2e12) => 70 + 1.5 * r,
            _ => 300 - flops / 1e11,
        });
        var md = File.ReadAllText(SweepReplicates.WriteSummary(plan, _dir));
        Assert.Contains("## Claim 4: b4 (16 tokens, K = 512) against b8 (64 tokens, K = 512)", md);
        Assert.Contains("| gpt-t4 | 1000 / 250 | 1E+12 | 101.00 ± 2.48 | 111.00 ± 2.48 | -10.00 ± 0.00 |", md);
        Assert.Contains("| gpt-t4 | 2000 / 500 | 2E+12 |", md);
        Assert.DoesNotContain("| gpt-t4 | 500 / ", md); // b4 at 500 steps (5E+11) meets no b8 point
        Assert.Contains("**Claim 4: flip seen at gpt-t4, 2000 / 500 steps (2E+12 GPT FLOPs): b4 − b8 FID = 9.50 ± 1.24", md);
        Assert.DoesNotContain("is already the better", md);
    }

    [Fact]
    public void WithoutAMeasuredFlipTheFittedFrontiersDecideWithinTenTimes()
    {
        var plan = Plan();
        // b4's floor is higher (60 against 30): the curves cross where (b − a)·x = 30, x = (C / 1E+11)^−0.5.
        // a = 100, b = 332: x = 0.129, C ≈ 6E+12, 3× the largest compute both reached (2E+12, b4's last point).
        Record(plan, (name, flops, r) => name == "b4" ? Law(60, 100, flops, r) : Law(30, 332, flops, r));
        var md = File.ReadAllText(SweepReplicates.WriteSummary(plan, _dir));
        Assert.Contains("**Claim 4: flip predicted within 10×: no measured pair has an interval above 0, and the fitted frontiers cross at ≈ 6", md);
        Assert.Contains("(3.0× the largest compute both reached, 2E+12)", md);
        Assert.Contains("b4 L_min 60.0, α -0.500 over 4 points; b8 L_min 30.0, α -0.500 over 4 points", md);
        Assert.Contains("Each replicate's own fits: 3 of 3 (with converged fits) cross within 10× its largest compute.", md);

        // b = 600: x = 0.06, C ≈ 2.8E+13, 14× past it: no flip within 10×.
        Record(plan, (name, flops, r) => name == "b4" ? Law(60, 100, flops, r) : Law(30, 600, flops, r));
        md = File.ReadAllText(SweepReplicates.WriteSummary(plan, _dir));
        Assert.Contains("**Claim 4: no flip within 10×: no measured pair has an interval above 0, and the fitted frontiers keep b4 the better up to 2E+13 GPT FLOPs.**", md);
    }

    [Fact]
    public void WhenTheLargerCodeWinsAlreadyAtTheLowestComputeTheReportSaysWhereTheEarlierOrderComesFrom()
    {
        var plan = Plan();
        Record(plan, (name, flops, r) => name == "b4" ? Law(60, 100, flops, r) + 50 + r : Law(30, 100, flops, r));
        var md = File.ReadAllText(SweepReplicates.WriteSummary(plan, _dir));
        Assert.Contains("**Claim 4: flip seen at gpt-t4, 1000 / 250 steps (1E+12 GPT FLOPs)", md);
        Assert.Contains("At the lowest equal compute measured here (1E+12 GPT FLOPs) b8 is already the better", md);
    }
}
