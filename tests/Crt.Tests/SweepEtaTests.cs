using Crt.Scaling;
using Xunit;

namespace Crt.Tests;

/// <summary>The time a sweep says is left: GPT training by FLOPs, measuring per point, and the tokenizers still to prepare.</summary>
public sealed class SweepEtaTests
{
    private static SweepPlan Plan() => SweepPlan.Load(TestData.File("sweep-micro.json"));

    private static PointRecord Point(string tokenizer, long steps, double trainSeconds, double seconds) => new()
    {
        Tokenizer = tokenizer, TokenizerSha256 = tokenizer, Gpt = "gpt-t1", Steps = steps, TrainSeconds = trainSeconds, Seconds = seconds,
    };

    [Fact]
    public void NothingIsPromisedBeforeTheFirstPoint()
    {
        var eta = new SweepEta(Plan(), []);
        Assert.Null(eta.SecondsLeft([("crt", "gpt-t1", 1, 0)], tokenizersToPrepare: 1));
        Assert.Equal("? (after the first point)", SweepEta.Format(null));
    }

    [Fact]
    public void PointsCountByTheirStepsAndEachTokenizerLeftByTheMeanSoFar()
    {
        var eta = new SweepEta(Plan(), []);
        eta.Prepared(new TokenizerRecord { Name = "baseline", Sha256 = "baseline", RunDir = "", Preset = "vq-tiny", FeatureNet = "test", CodebookSize = 64, TokensPerImage = 64 }, 100);
        eta.Measured(Point("baseline", 2, trainSeconds: 10, seconds: 15), previousSteps: 0); // 5 s per step, 5 s to measure

        // The same tokenizer, from step 2 to 4: two steps (10 s) and one measurement (5 s).
        Assert.Equal(15, eta.SecondsLeft([("baseline", "gpt-t1", 4, 2)])!.Value, 6);
        // Another tokenizer of the plan's codebook size (64) with the same GPT: the same, plus the one tokenizer to prepare.
        Assert.Equal(115, eta.SecondsLeft([("crt", "gpt-t1", 4, 2)], tokenizersToPrepare: 1)!.Value, 6);
    }
}
