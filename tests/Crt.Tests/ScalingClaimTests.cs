using Crt.Scaling;
using Xunit;

namespace Crt.Tests;

/// <summary>The claim verdicts on hand-made records whose answer is known: the same study once reproducing the paper, once not.</summary>
public sealed class ScalingClaimTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-claims-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private SweepPlan Plan()
    {
        var path = Path.Combine(_dir, "plan.json");
        File.WriteAllText(path, """
            { "baseline": "base", "crt": "crt",
              "tokenizers": [ { "name": "base", "preset": "vq-tiny" }, { "name": "crt", "preset": "vq-tiny" }, { "name": "small", "preset": "vq-tiny" } ],
              "gpt": { "presets": ["gpt-t1", "gpt-t2"], "steps": [100, 200, 400, 800, 1600] }, "eval": { "samples": 100, "bootstrap": 50 } }
            """);
        return SweepPlan.Load(path);
    }

    private static TokenizerRecord Tok(string name, int tokens, double psnr, double rfid) =>
        new() { Name = name, Sha256 = name, RunDir = "", Preset = "vq-tiny", FeatureNet = "f", CodebookSize = 512, TokensPerImage = tokens, Psnr = psnr, Rfid = rfid, CrtEnabled = name == "crt" };

    /// <summary>Points on known curves: CE and FID fall as power laws of compute; <paramref name="scale"/> and <paramref name="floor"/> set a tokenizer's curve.</summary>
    private static IEnumerable<PointRecord> Points(string tok, int tokens, double ceScale, double fidScale, double fidFloor, double flopsPerStep)
    {
        foreach (var (gpt, size) in new[] { ("gpt-t1", 1.0), ("gpt-t2", 4.0) })
            foreach (var steps in new long[] { 100, 200, 400, 800, 1600 })
            {
                double c = steps * flopsPerStep * size, ce = ceScale * Math.Pow(c, -0.2) * (size == 1 ? 1 : 1.05);
                yield return new PointRecord
                {
                    Tokenizer = tok, TokenizerSha256 = tok, Gpt = gpt, Steps = steps, GptFlops = c, CodebookSize = 512, TokensPerImage = tokens,
                    CePerToken = ce, CePerPosition = Enumerable.Repeat(ce, tokens).ToArray(), BitsPerImage = ce * tokens / Math.Log(2),
                    Fid = fidFloor + fidScale * Math.Pow(c, -0.3), Samples = 100,
                };
            }
    }

    [Fact]
    public void ClaimsReproduceWhenTheRecordsSaySoAndNotOtherwise()
    {
        var toks = new[] { Tok("base", 64, 20, 100), Tok("crt", 64, 19, 120), Tok("small", 16, 17, 200) };
        // CRT: lower CE and FID than the baseline everywhere. Small code: 4× cheaper steps and a low start, but a high floor — the flip of claim 4.
        var points = Points("base", 64, 100, 3e5, 10, 1e9).Concat(Points("crt", 64, 60, 1.5e5, 10, 1e9)).Concat(Points("small", 16, 100, 2e4, 80, 2.5e8)).ToList();
        var a = SweepAnalysis.Run(Plan(), toks, points);
        Assert.Equal(new[] { ClaimVerdict.Yes, ClaimVerdict.Yes, ClaimVerdict.Yes, ClaimVerdict.Yes, ClaimVerdict.Untested }, a.Claims.Select(c => c.Verdict));
        Assert.Contains("lower at 10 of 10", a.Claims[1].Evidence);
        Assert.Contains("smaller code wins at low compute and loses at high compute", a.Claims[3].Evidence);
        var fid = a.Efficiencies.Single(e => e.Metric == SweepMetric.Fid && e.Other == "crt");
        Assert.All(fid.Rows, r => Assert.True(r.Fitted > 1 && r.Empirical > 1));

        // The same study where CRT reconstructs better and models worse, and the small code never wins.
        toks = new[] { Tok("base", 64, 20, 100), Tok("crt", 64, 21, 90), Tok("small", 16, 17, 200) };
        points = Points("base", 64, 100, 3e5, 10, 1e9).Concat(Points("crt", 64, 120, 6e5, 10, 1e9)).Concat(Points("small", 16, 100, 6e5, 60, 2.5e8)).ToList();
        a = SweepAnalysis.Run(Plan(), toks, points);
        Assert.Equal(new[] { ClaimVerdict.No, ClaimVerdict.No, ClaimVerdict.No, ClaimVerdict.No }, a.Claims.Take(4).Select(c => c.Verdict));
        Assert.Contains("lower at 0 of 10", a.Claims[1].Evidence);
    }
    /// <summary>
    /// Claim 4 where the step counts give the two codes nearly, not exactly, equal compute (claim 4's replicate (0, 0),
    /// 2026-12-07): 4×4 tokens at 2000 steps reach 8.13E+13 FLOPs, 8×8 at 500 steps 8.38E+13 (3% more) and a lower FID.
    /// That 3% must not hide the flip, as the rule over replicates pairs points within 5%.
    /// </summary>
    [Fact]
    public void Claim4CountsAPointWithinFivePercentAsReachingACompute()
    {
        var path = Path.Combine(_dir, "plan4.json");
        File.WriteAllText(path, """
            { "baseline": "base",
              "tokenizers": [ { "name": "base", "preset": "vq-tiny" }, { "name": "small", "preset": "vq-tiny", "compare_to": "base" } ],
              "gpt": { "presets": ["gpt-t4"], "steps": [250, 500, 1000, 2000] }, "eval": { "samples": 100, "bootstrap": 50 } }
            """);
        PointRecord P(string tok, int tokens, long steps, double flopsPerStep, double fid) => new()
        {
            Tokenizer = tok, TokenizerSha256 = tok, Gpt = "gpt-t4", Steps = steps, GptFlops = steps * flopsPerStep, CodebookSize = 512, TokensPerImage = tokens,
            CePerToken = 2, CePerPosition = Enumerable.Repeat(2.0, tokens).ToArray(), BitsPerImage = 2 * tokens / Math.Log(2), Fid = fid, Samples = 100,
        };
        var large = new[] { (250L, 223.67), (500L, 103.98), (1000L, 65.80), (2000L, 52.08) }.Select(x => P("base", 64, x.Item1, 1.675e11, x.Item2));
        var small = new[] { (250L, 230.60), (500L, 140.49), (1000L, 125.77), (2000L, 110.39) }.Select(x => P("small", 16, x.Item1, 4.065e10, x.Item2));
        var a = SweepAnalysis.Run(SweepPlan.Load(path), new[] { Tok("base", 64, 21.96, 36.66), Tok("small", 16, 19.08, 109.73) }, large.Concat(small).ToList());
        var claim4 = a.Claims[3];
        Assert.Equal(ClaimVerdict.Yes, claim4.Verdict);
        Assert.Contains("110.39 vs 103.98", claim4.Evidence);
    }
}
