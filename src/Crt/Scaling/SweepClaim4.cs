using System.Globalization;
using System.Text;

namespace Crt.Scaling;

/// <summary>
/// Claim 4 across replicates, by the rule declared in docs/results.md (2026-12-06): a tokenizer with a smaller code
/// (fewer tokens per image or a smaller codebook, neither larger) against the one it is compared with (its compare_to,
/// else the baseline). A shorter code costs less per GPT step, so equal GPT compute pairs different step counts: points of
/// one GPT size whose FLOPs agree within <see cref="EqualWithin"/> are paired by replicate, and the flip is seen at the
/// first such pair, in order of compute, where smaller − larger FID has a 95% interval above 0. Otherwise the power laws
/// fitted to each tokenizer's FID frontier (of its mean FIDs) are extrapolated to <see cref="Horizon"/>× the largest
/// compute both reached: the flip is predicted within that horizon where the larger code's curve falls below the
/// smaller's, and otherwise there is no flip within it.
/// </summary>
internal static class SweepClaim4
{
    /// <summary>Two points count as equal GPT compute when their FLOPs differ by at most this fraction.</summary>
    public const double EqualWithin = 0.05;
    /// <summary>How far past the largest compute reached the fitted frontiers are read.</summary>
    public const double Horizon = 10;

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Write(StringBuilder md, SweepPlan plan, ReplicateRuns runs)
    {
        foreach (var t in plan.Tokenizers)
        {
            string reference = t.CompareTo ?? plan.Baseline;
            if (reference == t.Name || !plan.Tokenizers.Any(r => r.Name == reference)) continue;
            var small = Any(runs, t.Name);
            var large = Any(runs, reference);
            if (small is null || large is null || !Smaller(small, large)) continue;
            WritePair(md, plan, runs, small, large);
        }
    }

    private static PointRecord? Any(ReplicateRuns runs, string tokenizer) =>
        runs.SelectMany(x => x.Records.Points).FirstOrDefault(p => p.Tokenizer == tokenizer && p.Fid is not null);

    private static bool Smaller(PointRecord s, PointRecord l) =>
        s.TokensPerImage <= l.TokensPerImage && s.CodebookSize <= l.CodebookSize &&
        (s.TokensPerImage < l.TokensPerImage || s.CodebookSize < l.CodebookSize);

    /// <summary>A tokenizer's FID at one (GPT, steps) in each replicate that measured it.</summary>
    private static Dictionary<SweepReplicate, PointRecord> At(ReplicateRuns runs, string tokenizer, string preset, long steps) =>
        SweepReplicates.PointsAt(runs, tokenizer, preset, steps).Where(q => q.Point.Fid is not null)
            .GroupBy(q => q.Replicate).ToDictionary(g => g.Key, g => g.Last().Point);

    internal sealed record EqualComputePair(string Preset, long SmallSteps, long LargeSteps, double Flops, MeanInterval Small, MeanInterval Large, MeanInterval Delta);

    /// <summary>Every pair of one GPT size's points, one per tokenizer, of equal GPT compute, in increasing compute.</summary>
    internal static List<EqualComputePair> EqualComputePairs(SweepPlan plan, ReplicateRuns runs, string small, string large)
    {
        var pairs = new List<EqualComputePair>();
        foreach (var preset in plan.Gpt.Presets)
            foreach (var ss in plan.Gpt.Steps)
                foreach (var ls in plan.Gpt.Steps)
                {
                    var s = At(runs, small, preset, ss);
                    var l = At(runs, large, preset, ls);
                    if (s.Count == 0 || l.Count == 0) continue;
                    double fs = s.Values.Average(p => p.GptFlops), fl = l.Values.Average(p => p.GptFlops);
                    if (Math.Abs(fs / fl - 1) > EqualWithin) continue;
                    var both = s.Keys.Where(l.ContainsKey).ToList();
                    pairs.Add(new(preset, ss, ls, (fs + fl) / 2, MeanInterval.Of(s.Values.Select(p => p.Fid!.Value)),
                        MeanInterval.Of(l.Values.Select(p => p.Fid!.Value)), MeanInterval.Of(both.Select(r => s[r].Fid!.Value - l[r].Fid!.Value))));
                }
        return pairs.OrderBy(p => p.Flops).ToList();
    }

    internal sealed record Extrapolation(PowerLawFitResult Small, PowerLawFitResult Large, double Reached, double? CrossesAt);

    /// <summary>
    /// Fits both frontiers and reads them from the largest compute both reached to <see cref="Horizon"/>× it: the first
    /// compute (on a log grid of 200 steps) where the larger code's fitted FID is below the smaller's, or null.
    /// </summary>
    internal static Extrapolation? Extrapolate(IReadOnlyList<CurvePoint> small, IReadOnlyList<CurvePoint> large)
    {
        if (small.Count == 0 || large.Count == 0) return null;
        var fs = PowerLawFit.Fit(small.Select(p => p.Compute).ToList(), small.Select(p => p.Value).ToList());
        var fl = PowerLawFit.Fit(large.Select(p => p.Compute).ToList(), large.Select(p => p.Value).ToList());
        double reached = Math.Min(small.Max(p => p.Compute), large.Max(p => p.Compute));
        double? crosses = null;
        if (fs.Converged && fl.Converged)
            for (int k = 0; k <= 200 && crosses is null; k++)
            {
                double c = reached * Math.Pow(Horizon, k / 200.0);
                if (fl.Law!.Evaluate(c) < fs.Law!.Evaluate(c)) crosses = c;
            }
        return new(fs, fl, reached, crosses);
    }

    private static void WritePair(StringBuilder md, SweepPlan plan, ReplicateRuns runs, PointRecord small, PointRecord large)
    {
        string s = small.Tokenizer, l = large.Tokenizer;
        md.AppendLine($"## Claim 4: {s} ({small.TokensPerImage} tokens, K = {small.CodebookSize}) against {l} ({large.TokensPerImage} tokens, K = {large.CodebookSize})").AppendLine();
        md.AppendLine($"The rule declared in docs/results.md: points of one GPT size with equal GPT compute (within {EqualWithin:P0}) are paired by replicate; " +
            $"the order flips where {s} − {l} FID has a 95% interval above 0 (the larger code better). Failing that, the power laws fitted to both FID " +
            $"frontiers decide whether it flips within {Horizon:G}× the largest compute both reached.").AppendLine();
        var pairs = EqualComputePairs(plan, runs, s, l);
        if (pairs.Count > 0)
        {
            md.AppendLine($"| GPT | steps {s} / {l} | GPT FLOPs | FID {s} | FID {l} | {s} − {l}, paired |");
            md.AppendLine("|---|---|---|---|---|---|");
            foreach (var p in pairs)
                md.AppendLine($"| {p.Preset} | {p.SmallSteps} / {p.LargeSteps} | {p.Flops.ToString("G3", Inv)} | {p.Small.Format("F2")} | {p.Large.Format("F2")} | {p.Delta.Format("F2")} |");
            md.AppendLine();
        }
        else md.AppendLine("No two points of equal GPT compute are measured yet.").AppendLine();

        var flip = pairs.FirstOrDefault(p => p.Delta.N > 1 && p.Delta.Low > 0);
        var all = runs.SelectMany(x => x.Records.Points).ToList(); // FidFrontier passes over points without an FID
        var mean = Extrapolate(SweepReplicates.FidFrontier(all.Where(p => p.Tokenizer == s)), SweepReplicates.FidFrontier(all.Where(p => p.Tokenizer == l)));
        if (mean is not null)
        {
            md.AppendLine($"Power laws fitted to the frontiers of the mean FIDs (FID = L_min + exp(λ)·C^α, C in GPT FLOPs): {s} {Describe(mean.Small)}; {l} {Describe(mean.Large)}.");
            var own = runs.Select(x => Extrapolate(SweepReplicates.FidFrontier(x.Records.Points.Where(p => p.Tokenizer == s)),
                    SweepReplicates.FidFrontier(x.Records.Points.Where(p => p.Tokenizer == l))))
                .Where(e => e is { Small.Converged: true, Large.Converged: true }).ToList();
            if (own.Count > 0)
                md.AppendLine($"Each replicate's own fits: {own.Count(e => e!.CrossesAt is not null)} of {own.Count} (with converged fits) cross within {Horizon:G}× its largest compute.");
            md.AppendLine();
        }

        string verdict;
        if (flip is not null)
            verdict = $"flip seen at {flip.Preset}, {flip.SmallSteps} / {flip.LargeSteps} steps ({flip.Flops.ToString("G3", Inv)} GPT FLOPs): {s} − {l} FID = {flip.Delta.Format("F2")}, " +
                $"interval [{flip.Delta.Low.ToString("F2", Inv)}, {flip.Delta.High.ToString("F2", Inv)}] above 0";
        else if (mean is null || !mean.Small.Converged || !mean.Large.Converged)
            verdict = "undecided: no measured pair has an interval above 0, and " +
                (mean is null ? "there are no FID frontiers to fit yet" : "a frontier fit did not converge, so the rule's extrapolation cannot be made");
        else if (mean.CrossesAt is { } c)
            verdict = $"flip predicted within {Horizon:G}×: no measured pair has an interval above 0, and the fitted frontiers cross at ≈ {c.ToString("G3", Inv)} GPT FLOPs " +
                $"({(c / mean.Reached).ToString("F1", Inv)}× the largest compute both reached, {mean.Reached.ToString("G3", Inv)})";
        else
            verdict = $"no flip within {Horizon:G}×: no measured pair has an interval above 0, and the fitted frontiers keep {s} the better up to " +
                $"{(Horizon * mean.Reached).ToString("G3", Inv)} GPT FLOPs";
        md.AppendLine($"**Claim 4: {verdict}.**");
        if (pairs.FirstOrDefault(p => p.Delta.N > 1) is { } first && first.Delta.Low > 0)
            md.AppendLine().Append($"At the lowest equal compute measured here ({first.Flops.ToString("G3", Inv)} GPT FLOPs) {l} is already the better: ")
                .AppendLine("the order before the flip (the smaller code better at low compute) is the earlier single-seed sweep's, not this study's.");
        md.AppendLine();
    }

    private static string Describe(PowerLawFitResult f) => f.Law is not { } law ? $"no fit ({f.Problem})"
        : $"L_min {law.LMin.ToString("F1", Inv)}, α {law.Alpha.ToString("F3", Inv)} over {f.Points} points" + (f.Converged ? "" : $", not converged ({f.Problem})");
}
