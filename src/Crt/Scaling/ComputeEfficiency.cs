namespace Crt.Scaling;

/// <summary>
/// At one target value: how many times the reference (baseline) compute the other tokenizer's GPT needs
/// is saved — C_baseline(target) / C_other(target). Above 1: the other tokenizer reaches the target
/// with less compute. Given from the fitted curves (with a bootstrap interval and how many resample
/// pairs could not give a ratio) and directly from the two empirical frontiers where both reach it.
/// </summary>
public sealed record EfficiencyAtTarget(double Target, double? Fitted, double Lo, double Hi, int Failed, double? Empirical);

public static class ComputeEfficiency
{
    /// <summary>C_baseline(target) / C_other(target) on two fitted laws; null when either never reaches the target.</summary>
    public static double? Ratio(PowerLaw baseline, PowerLaw other, double target) =>
        baseline.ComputeFor(target) is { } cb && other.ComputeFor(target) is { } co ? cb / co : null;

    /// <summary>The same ratio read off the empirical frontiers (log-compute interpolation); null unless both reach the target.</summary>
    public static double? EmpiricalRatio(IReadOnlyList<CurvePoint> baseline, IReadOnlyList<CurvePoint> other, double target) =>
        Frontier.ComputeToReach(baseline, target) is { } cb && Frontier.ComputeToReach(other, target) is { } co ? cb / co : null;

    /// <summary>
    /// <paramref name="count"/> targets evenly spaced over the values both frontiers cover (the overlap of
    /// their ranges), so the ratio is read where both curves are measured; empty when they do not overlap.
    /// </summary>
    public static double[] Targets(IReadOnlyList<CurvePoint> baseline, IReadOnlyList<CurvePoint> other, int count)
    {
        if (baseline.Count == 0 || other.Count == 0 || count < 1) return Array.Empty<double>();
        double hi = Math.Min(baseline[0].Value, other[0].Value), lo = Math.Max(baseline[^1].Value, other[^1].Value);
        if (!(hi >= lo)) return Array.Empty<double>();
        if (count == 1 || hi == lo) return new[] { (hi + lo) / 2 };
        // The ends exactly: the last target is the lower frontier's best value, which it must count as reached.
        return Enumerable.Range(0, count).Select(i => i == count - 1 ? lo : hi - (hi - lo) * i / (count - 1.0)).ToArray();
    }

    /// <summary>
    /// The ratio at each target: on the fitted laws, its percentile interval over the bootstrap pairs
    /// (resample i of one with resample i of the other), and on the empirical frontiers.
    /// </summary>
    public static IReadOnlyList<EfficiencyAtTarget> Compare(IReadOnlyList<CurvePoint> baselineFrontier, PowerLawFitResult baselineFit, PowerLawBootstrap baselineBoot,
        IReadOnlyList<CurvePoint> otherFrontier, PowerLawFitResult otherFit, PowerLawBootstrap otherBoot, int targets = 5)
    {
        var result = new List<EfficiencyAtTarget>();
        foreach (var t in Targets(baselineFrontier, otherFrontier, targets))
        {
            double? fitted = baselineFit.Converged && otherFit.Converged ? Ratio(baselineFit.Law!, otherFit.Law!, t) : null;
            var ratios = new List<double>();
            int pairs = Math.Min(baselineBoot.Laws.Count, otherBoot.Laws.Count), failed = 0;
            for (int i = 0; i < pairs; i++)
            {
                if (baselineBoot.Laws[i] is { } b && otherBoot.Laws[i] is { } o && Ratio(b, o, t) is { } r) ratios.Add(r);
                else failed++;
            }
            var (lo, hi) = PowerLawBootstrap.Percentile95(ratios);
            result.Add(new EfficiencyAtTarget(t, fitted, lo, hi, failed, EmpiricalRatio(baselineFrontier, otherFrontier, t)));
        }
        return result;
    }
}
