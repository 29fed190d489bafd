using Crt.Tensors;

namespace Crt.Scaling;

/// <summary>
/// Bootstrap of a frontier fit: the frontier points are resampled with replacement, each resample is
/// fitted again, and percentile intervals are read off the converged fits. Resamples whose fit does not
/// converge (too few distinct computes, L_min at its guard, no convergence) are counted, not hidden.
/// </summary>
public sealed record PowerLawBootstrap(int Resamples, int Failed, IReadOnlyList<PowerLaw?> Laws)
{
    public IEnumerable<double> Alphas => Laws.Where(l => l is not null).Select(l => l!.Alpha);

    /// <summary>The 95% percentile interval of α over the converged resamples (NaN when none converged).</summary>
    public (double Lo, double Hi) AlphaInterval => Percentile95(Alphas);

    /// <summary>Resamples <paramref name="frontier"/> <paramref name="resamples"/> times with a fixed seed (same seed, same intervals).</summary>
    public static PowerLawBootstrap Run(IReadOnlyList<CurvePoint> frontier, int resamples, ulong seed, double floor = 0)
    {
        var rng = new Rng(seed);
        var laws = new PowerLaw?[resamples];
        int failed = 0, n = frontier.Count;
        for (int r = 0; r < resamples; r++)
        {
            var pick = Enumerable.Range(0, n).Select(_ => frontier[rng.NextInt(n)]).ToArray();
            var fit = n == 0 ? null : PowerLawFit.Fit(pick.Select(p => p.Compute).ToArray(), pick.Select(p => p.Value).ToArray(), floor);
            if (fit is { Converged: true }) laws[r] = fit.Law;
            else failed++;
        }
        return new PowerLawBootstrap(resamples, failed, laws);
    }

    /// <summary>The 2.5th and 97.5th percentiles (linear interpolation between order statistics, as numpy's default).</summary>
    public static (double Lo, double Hi) Percentile95(IEnumerable<double> values)
    {
        var v = values.Where(double.IsFinite).OrderBy(x => x).ToArray();
        if (v.Length == 0) return (double.NaN, double.NaN);
        return (Quantile(v, 0.025), Quantile(v, 0.975));
    }

    public static double Quantile(double[] sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int i = (int)Math.Floor(pos);
        return i + 1 < sorted.Length ? sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]) : sorted[i];
    }
}
