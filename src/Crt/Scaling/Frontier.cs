namespace Crt.Scaling;

/// <summary>One measured run prefix: its training compute (FLOPs), the measured value (loss or FID) and which run it came from.</summary>
public sealed record CurvePoint(double Compute, double Value, string Label = "");

/// <summary>
/// The compute-optimal frontier: the lower envelope, over model sizes and training lengths, of a value
/// against training compute. A point is on it when no point with at most its compute reaches a value as
/// low — the best one could have done with that budget by picking the size and the length.
/// </summary>
public static class Frontier
{
    /// <summary>The frontier points in increasing compute (so strictly decreasing value); non-finite values and computes ≤ 0 are ignored.</summary>
    public static IReadOnlyList<CurvePoint> LowerEnvelope(IEnumerable<CurvePoint> points)
    {
        var result = new List<CurvePoint>();
        double best = double.PositiveInfinity;
        foreach (var p in points.Where(p => double.IsFinite(p.Value) && double.IsFinite(p.Compute) && p.Compute > 0)
                     .OrderBy(p => p.Compute).ThenBy(p => p.Value))
        {
            if (p.Value >= best) continue;
            best = p.Value;
            result.Add(p);
        }
        return result;
    }

    /// <summary>
    /// The compute at which the frontier reaches <paramref name="target"/>, interpolating log C linearly in
    /// the value between the two frontier points around it; null outside the frontier's range of values.
    /// </summary>
    public static double? ComputeToReach(IReadOnlyList<CurvePoint> frontier, double target)
    {
        if (frontier.Count == 0) return null;
        double slack = 1e-12 * Math.Max(Math.Abs(frontier[0].Value), Math.Abs(frontier[^1].Value)); // round-off in a target computed from these values
        if (target > frontier[0].Value + slack || target < frontier[^1].Value - slack) return null;
        target = Math.Clamp(target, frontier[^1].Value, frontier[0].Value);
        if (frontier.Count == 1 || target == frontier[0].Value) return frontier[0].Compute;
        for (int i = 0; i + 1 < frontier.Count; i++)
        {
            var (a, b) = (frontier[i], frontier[i + 1]);
            if (target > a.Value || target < b.Value) continue;
            double t = (a.Value - target) / (a.Value - b.Value);
            return Math.Exp(Math.Log(a.Compute) + t * (Math.Log(b.Compute) - Math.Log(a.Compute)));
        }
        return null;
    }

    /// <summary>The best value reached with at most <paramref name="compute"/> FLOPs (the frontier as a step function), or null when no point is that cheap.</summary>
    public static double? BestWithin(IReadOnlyList<CurvePoint> frontier, double compute)
    {
        double? best = null;
        foreach (var p in frontier)
            if (p.Compute <= compute * (1 + 1e-9)) best = p.Value;
        return best;
    }
}
