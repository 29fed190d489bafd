using Crt.Training;
using Xunit;

namespace Crt.Tests;

public sealed class StageTimesTests
{
    [Fact]
    public void StagesSumEveryRunKeepTheirFirstOrderAndTheRestIsOther()
    {
        var times = new StageTimes();
        times.Add("training", 60);
        times.Add("sampling", 30);
        times.Add("training", 120);
        Assert.Equal(new[] { ("training", 180.0), ("sampling", 30.0) }, times.Stages);
        Assert.Equal("training 3.0 min (50%), sampling 0.5 min (8%), other 2.5 min (42%)", times.Describe(360));

        // Time returns the work's value and counts its time even when it throws.
        Assert.Equal(7, times.Time("evaluation", () => 7));
        Assert.Throws<InvalidOperationException>(() => times.Time("failing", () => throw new InvalidOperationException()));
        Assert.Equal(new[] { "training", "sampling", "evaluation", "failing" }, times.Stages.Select(s => s.Stage));
    }
}
