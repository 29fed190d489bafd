using Crt.Scaling;
using Crt.Tensors;
using Xunit;

namespace Crt.Tests;

/// <summary>The scaling-law machinery on data whose answer is known: synthetic power laws and hand-made frontiers.</summary>
public class ScalingFitTests
{
    private static double[] LogSpace(double from, double to, int n) =>
        Enumerable.Range(0, n).Select(i => Math.Exp(Math.Log(from) + (Math.Log(to) - Math.Log(from)) * i / (n - 1.0))).ToArray();

    [Fact]
    public void FitRecoversAKnownLawExactlyWithoutNoise()
    {
        var truth = new PowerLaw(1.5, 7.6, -0.3);
        var c = LogSpace(1e10, 1e14, 9);
        var fit = PowerLawFit.Fit(c, c.Select(truth.Evaluate).ToArray());
        Assert.True(fit.Converged, fit.Problem);
        Assert.Equal(truth.LMin, fit.Law!.LMin, 4);
        Assert.Equal(truth.Alpha, fit.Law.Alpha, 4);
        Assert.Equal(truth.Lambda, fit.Law.Lambda, 2);
    }

    [Fact]
    public void FitRecoversAKnownLawFromNoisyDataAndTheBootstrapIntervalCoversAlpha()
    {
        var truth = new PowerLaw(1.5, 7.6, -0.3); // from ≈ 3.5 at 1e10 down to ≈ 1.63 at 1e14
        var c = LogSpace(1e10, 1e14, 15);
        var rng = new Rng(11);
        var y = c.Select(x => truth.Evaluate(x) + 0.01 * rng.NextNormal()).ToArray();
        var fit = PowerLawFit.Fit(c, y);
        Assert.True(fit.Converged, fit.Problem);
        Assert.InRange(fit.Law!.Alpha, -0.36, -0.24);
        Assert.InRange(fit.Law.LMin, 1.35, 1.6);
        foreach (var x in new[] { 1e10, 1e12, 1e14 }) Assert.InRange(fit.Law.Evaluate(x), truth.Evaluate(x) - 0.03, truth.Evaluate(x) + 0.03);

        var points = c.Zip(y, (x, v) => new CurvePoint(x, v)).ToList();
        var boot = PowerLawBootstrap.Run(points, 1000, seed: 5);
        var (lo, hi) = boot.AlphaInterval;
        Assert.True(lo <= truth.Alpha && truth.Alpha <= hi, $"95% interval [{lo}, {hi}] misses α = {truth.Alpha}");
        Assert.True(hi - lo < 0.3, $"interval [{lo}, {hi}] is too wide to say anything");
        Assert.True(boot.Failed < 100, $"{boot.Failed} of 1000 resamples failed");
        Assert.Equal(boot.AlphaInterval, PowerLawBootstrap.Run(points, 1000, seed: 5).AlphaInterval); // fixed seed, same interval
    }

    [Fact]
    public void APurePowerLawPutsLMinOnTheFloor()
    {
        var truth = new PowerLaw(0, 20, -0.5);
        var c = LogSpace(1e12, 1e15, 8);
        var fit = PowerLawFit.Fit(c, c.Select(truth.Evaluate).ToArray());
        Assert.True(fit.Converged, fit.Problem);
        Assert.InRange(fit.Law!.LMin, 0, 1e-3 * c.Select(truth.Evaluate).Min());
        Assert.Equal(-0.5, fit.Law.Alpha, 3);
    }

    [Fact]
    public void FitsThatCannotDescribeTheDataSaySo()
    {
        // The last points come within 1e-6 of L_min: the best L_min sits on the guard below the smallest value.
        var steep = new PowerLaw(1, Math.Log(1e10), -1);
        var c = LogSpace(1e10, 1e16, 7);
        var guarded = PowerLawFit.Fit(c, c.Select(steep.Evaluate).ToArray());
        Assert.False(guarded.Converged);
        Assert.Contains("guard", guarded.Problem);
        var tooFew = PowerLawFit.Fit(new[] { 1e10, 1e11, 1e11 }, new[] { 3.0, 2.0, 2.1 });
        Assert.Null(tooFew.Law);
        Assert.Contains("2 distinct computes", tooFew.Problem);
    }

    [Fact]
    public void FrontierIsTheLowerEnvelopeOfHandMadePoints()
    {
        var points = new[]
        {
            new CurvePoint(1, 5.0, "a"), new CurvePoint(2, 4.0, "b"), new CurvePoint(2, 3.5, "c"), new CurvePoint(3, 4.2, "d"),
            new CurvePoint(4, 3.0, "e"), new CurvePoint(5, 3.0, "f"), new CurvePoint(8, 2.0, "g"), new CurvePoint(6, 2.5, "h"),
            new CurvePoint(7, double.NaN, "nan"),
        };
        var frontier = Frontier.LowerEnvelope(points);
        Assert.Equal(new[] { "a", "c", "e", "h", "g" }, frontier.Select(p => p.Label));
        Assert.Equal(2 * Math.Sqrt(2), Frontier.ComputeToReach(frontier, 3.25)!.Value, 10); // halfway from (2, 3.5) to (4, 3.0) in log C
        Assert.Null(Frontier.ComputeToReach(frontier, 1.5));
        Assert.Equal(8, Frontier.ComputeToReach(frontier, 2.0 * (1 - 1e-15))!.Value, 9); // round-off below the best value still reaches it
        Assert.Equal(3.0, Frontier.BestWithin(frontier, 5.5));
        Assert.Null(Frontier.BestWithin(frontier, 0.5));
    }

    [Fact]
    public void EfficiencyRatioEqualsTheClosedFormForTwoKnownLaws()
    {
        var baseline = new PowerLaw(1.0, 14, -0.5); // excess over L_min from ≈ 1.2 at 1e12 to 0.012 at 1e16
        var other = new PowerLaw(1.0, 15.2, -0.6); // ≈ 1.0 at 1e11 to 0.004 at 1e15
        // C(L) = ((L − L_min) / e^λ)^(1/α), so the ratio at L is its value for the baseline over the other's.
        double Closed(double l) => Math.Exp((Math.Log(l - 1) - 14) / -0.5) / Math.Exp((Math.Log(l - 1) - 15.2) / -0.6);
        foreach (var l in new[] { 1.5, 2.0, 3.0 }) Assert.Equal(Closed(l), ComputeEfficiency.Ratio(baseline, other, l)!.Value, 9);
        // Equal exponents: a constant ratio exp((λ_other − λ_baseline) / α).
        Assert.Equal(Math.Exp(2), ComputeEfficiency.Ratio(new PowerLaw(1, 10, -0.5), new PowerLaw(1, 9, -0.5), 1.7)!.Value, 9);
        Assert.Null(ComputeEfficiency.Ratio(baseline, other, 0.9)); // below L_min: never reached

        // The whole pipeline on points of the two laws: fitted ratio, interval and empirical ratio agree with the closed form.
        var cb = LogSpace(1e12, 1e16, 12); var co = LogSpace(1e11, 1e15, 12);
        var fb = Frontier.LowerEnvelope(cb.Select(c => new CurvePoint(c, baseline.Evaluate(c))));
        var fo = Frontier.LowerEnvelope(co.Select(c => new CurvePoint(c, other.Evaluate(c))));
        var fitB = PowerLawFit.Fit(fb.Select(p => p.Compute).ToArray(), fb.Select(p => p.Value).ToArray());
        var fitO = PowerLawFit.Fit(fo.Select(p => p.Compute).ToArray(), fo.Select(p => p.Value).ToArray());
        var rows = ComputeEfficiency.Compare(fb, fitB, PowerLawBootstrap.Run(fb, 200, 1), fo, fitO, PowerLawBootstrap.Run(fo, 200, 2), targets: 4);
        Assert.Equal(4, rows.Count);
        Assert.Equal(Math.Max(fb[^1].Value, fo[^1].Value), rows[^1].Target); // the last target is exactly the higher of the two best values
        foreach (var r in rows)
        {
            double want = Closed(r.Target);
            Assert.InRange(r.Fitted!.Value, want * 0.999, want * 1.001);
            Assert.InRange(want, r.Lo * 0.999, r.Hi * 1.001);
            Assert.InRange(r.Empirical!.Value, want * 0.95, want * 1.05);
        }
    }

    [Fact]
    public void FrontiersThatDoNotOverlapGiveNoTargets()
    {
        var a = new[] { new CurvePoint(1, 5), new CurvePoint(2, 4) };
        var b = new[] { new CurvePoint(1, 3), new CurvePoint(2, 2) };
        Assert.Empty(ComputeEfficiency.Targets(a, b, 5));
    }
}
