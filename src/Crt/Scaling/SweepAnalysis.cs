namespace Crt.Scaling;

/// <summary>A measured quantity the study fits against GPT training compute.</summary>
public sealed record SweepMetric(string Key, string Label, Func<PointRecord, double?> Of)
{
    /// <summary>Validation loss as bits per image (Σ CE / ln 2): comparable across codebook sizes and token counts, and a constant multiple of CE per token where those are equal — so α and the efficiency ratios are the same as on per-token CE.</summary>
    public static readonly SweepMetric Loss = new("bits_per_image", "validation loss (bits per image)", p => p.BitsPerImage);
    public static readonly SweepMetric Fid = new("fid", "FID", p => p.Fid);
}

/// <summary>One tokenizer's frontier of one metric, its power-law fit and the fit's bootstrap.</summary>
public sealed record FrontierFit(string Tokenizer, SweepMetric Metric, IReadOnlyList<CurvePoint> Points, IReadOnlyList<CurvePoint> Frontier, PowerLawFitResult Fit, PowerLawBootstrap Bootstrap);

/// <summary>The compute-efficiency ratio of one tokenizer against the baseline on one metric, over the target values both frontiers reach.</summary>
public sealed record EfficiencyComparison(SweepMetric Metric, string Baseline, string Other, IReadOnlyList<EfficiencyAtTarget> Rows);

/// <summary>One row of the rate–distortion–generation table: the code's size, its reconstruction, and the best stage-2 results within the compute all tokenizers reached.</summary>
public sealed record RateDistortionRow(TokenizerRecord Tokenizer, PointRecord? BestLoss, PointRecord? BestFid);

/// <summary>Everything the reports show, computed from the records alone.</summary>
public sealed record SweepAnalysis(SweepPlan Plan, IReadOnlyList<TokenizerRecord> Tokenizers, IReadOnlyList<PointRecord> Points, IReadOnlyList<FrontierFit> Fits,
    IReadOnlyList<EfficiencyComparison> Efficiencies, double? CommonCompute, IReadOnlyList<RateDistortionRow> RateDistortion, IReadOnlyList<ClaimVerdict> Claims)
{
    public const int Targets = 5;

    public static SweepAnalysis Run(SweepPlan plan, IReadOnlyList<TokenizerRecord> tokenizers, IReadOnlyList<PointRecord> points)
    {
        var order = plan.Tokenizers.Select(t => t.Name).ToList();
        tokenizers = tokenizers.OrderBy(t => order.IndexOf(t.Name)).ToList();
        var metrics = plan.Eval.Samples > 0 ? new[] { SweepMetric.Loss, SweepMetric.Fid } : new[] { SweepMetric.Loss };
        var fits = new List<FrontierFit>();
        foreach (var (t, ti) in tokenizers.Select((t, i) => (t, i)))
            foreach (var (m, mi) in metrics.Select((m, i) => (m, i)))
            {
                var pts = points.Where(p => p.Tokenizer == t.Name && m.Of(p) is { } v && double.IsFinite(v))
                    .Select(p => new CurvePoint(p.GptFlops, m.Of(p)!.Value, p.Key)).ToList();
                var frontier = Frontier.LowerEnvelope(pts);
                var fit = PowerLawFit.Fit(frontier.Select(p => p.Compute).ToArray(), frontier.Select(p => p.Value).ToArray());
                // A fixed seed per (tokenizer, metric): the same records give the same intervals.
                var boot = PowerLawBootstrap.Run(frontier, plan.Eval.Bootstrap, plan.Seed * 7919 + (ulong)(ti * 16 + mi) + 1);
                fits.Add(new FrontierFit(t.Name, m, pts, frontier, fit, boot));
            }

        var efficiencies = new List<EfficiencyComparison>();
        foreach (var m in metrics)
        {
            var b = fits.FirstOrDefault(f => f.Tokenizer == plan.Baseline && f.Metric == m);
            if (b is null) continue;
            foreach (var o in fits.Where(f => f.Metric == m && f.Tokenizer != plan.Baseline))
                efficiencies.Add(new EfficiencyComparison(m, b.Tokenizer, o.Tokenizer,
                    ComputeEfficiency.Compare(b.Frontier, b.Fit, b.Bootstrap, o.Frontier, o.Fit, o.Bootstrap, Targets)));
        }

        // The largest compute every tokenizer's GPTs reached: where "at equal compute" can be read for all of them.
        var maxima = tokenizers.Select(t => points.Where(p => p.Tokenizer == t.Name).Select(p => p.GptFlops).DefaultIfEmpty(double.NaN).Max()).ToList();
        double? common = maxima.Count > 0 && maxima.All(double.IsFinite) ? maxima.Min() : null;
        var rd = tokenizers.Select(t =>
        {
            var within = points.Where(p => p.Tokenizer == t.Name && common is { } c && p.GptFlops <= c * (1 + 1e-9)).ToList();
            return new RateDistortionRow(t, within.MinBy(p => p.BitsPerImage), within.Where(p => p.Fid is not null).MinBy(p => p.Fid));
        }).ToList();

        var analysis = new SweepAnalysis(plan, tokenizers, points, fits, efficiencies, common, rd, Array.Empty<ClaimVerdict>());
        return analysis with { Claims = ClaimVerdict.Assess(analysis) };
    }

    public FrontierFit? FitOf(string tokenizer, SweepMetric metric) => Fits.FirstOrDefault(f => f.Tokenizer == tokenizer && f.Metric == metric);

    public TokenizerRecord? Tokenizer(string? name) => Tokenizers.FirstOrDefault(t => t.Name == name);

    /// <summary>The tokenizer a variant is set against for claim 4: its compare_to, else the CRT tokenizer for a CRT variant and the baseline otherwise.</summary>
    public string ReferenceOf(TokenizerRecord t)
    {
        var spec = Plan.Tokenizers.FirstOrDefault(x => x.Name == t.Name);
        return spec?.CompareTo ?? (t.CrtEnabled && Plan.Crt is not null ? Plan.Crt : Plan.Baseline);
    }

    /// <summary>Wall seconds recorded across all invocations: tokenizers (their stage-1 work) and points.</summary>
    public double RecordedSeconds => Tokenizers.Sum(t => t.Seconds) + Points.Sum(p => p.Seconds);

    /// <summary>
    /// <see cref="RecordedSeconds"/> split by the machine that made each record, most first (a null machine: records
    /// made before the machine was recorded). A study resumed on other machines sums times that are not comparable.
    /// </summary>
    public IReadOnlyList<(string? Machine, double Seconds)> RecordedSecondsByMachine =>
        Tokenizers.Select(t => (t.Machine, t.Seconds)).Concat(Points.Select(p => (p.Machine, p.Seconds)))
            .GroupBy(x => x.Machine).Select(g => (g.Key, g.Sum(x => x.Seconds))).OrderByDescending(x => x.Item2).ToList();
}
