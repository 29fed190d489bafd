using System.Globalization;

namespace Crt.Scaling;

/// <summary>A table of the report: a title, a header and rows of already formatted cells (rendered as HTML and as markdown).</summary>
public sealed record ReportTable(string Title, string[] Header, IReadOnlyList<string[]> Rows, string? Note = null);

/// <summary>The tables of a sweep's analysis, formatted once for both report.html and results.md.</summary>
public static class SweepTables
{
    private static string F(double v, string f = "F3") => double.IsFinite(v) ? v.ToString(f, CultureInfo.InvariantCulture) : "–";
    private static string F(double? v, string f = "F3") => v is { } x ? F(x, f) : "–";
    private static string Ci(double lo, double hi, string f = "F3") => double.IsFinite(lo) ? $"[{F(lo, f)}, {F(hi, f)}]" : "–";

    public static ReportTable Claims(SweepAnalysis a) => new("Claims (spec §6)", new[] { "#", "claim", "verdict", "evidence" },
        a.Claims.Select(c => new[] { c.Number.ToString(CultureInfo.InvariantCulture), c.Claim, c.Verdict, c.Evidence }).ToList(), ClaimVerdict.Rules);

    public static ReportTable Fits(SweepAnalysis a) => new("Power-law fits of the compute-optimal frontiers: L(C) = L_min + exp(λ)·C^α",
        new[] { "tokenizer", "metric", "points / on frontier", "L_min", "λ", "α", "α 95% CI", "bootstrap resamples failed", "note" },
        a.Fits.Select(f => new[]
        {
            f.Tokenizer, f.Metric.Label, $"{f.Points.Count} / {f.Frontier.Count}", F(f.Fit.Law?.LMin, "G4"), F(f.Fit.Law?.Lambda, "F3"), F(f.Fit.Law?.Alpha, "F3"),
            Ci(f.Bootstrap.AlphaInterval.Lo, f.Bootstrap.AlphaInterval.Hi), $"{f.Bootstrap.Failed} of {f.Bootstrap.Resamples}", f.Fit.Problem ?? "",
        }).ToList(),
        "C is the GPT's training compute (FLOPs counted by the engine, forward + backward = 3× forward). Fitted by least squares in the values with log C as abscissa, " +
        "L_min profiled between 0 and just below the smallest frontier value; CI: percentile interval over bootstrap resamples of the frontier points (fixed seed).");

    public static ReportTable Efficiency(SweepAnalysis a) => new("Compute efficiency: baseline compute ÷ other tokenizer's compute to reach the same value",
        new[] { "metric", "tokenizer vs baseline", "target", "fitted ratio", "95% CI", "bootstrap pairs without a ratio", "empirical ratio" },
        a.Efficiencies.SelectMany(e => e.Rows.Select(r => new[]
        {
            e.Metric.Label, $"{e.Other} vs {e.Baseline}", F(r.Target, "G4"), F(r.Fitted, "F2"), Ci(r.Lo, r.Hi, "F2"), r.Failed.ToString(CultureInfo.InvariantCulture), F(r.Empirical, "F2"),
        })).ToList(),
        "Above 1: the other tokenizer's GPTs reach the target with less compute. Targets span the values both frontiers reach; 'empirical' interpolates the measured frontiers " +
        "(log compute linear in the value), 'fitted' inverts the fitted laws.");

    public static ReportTable RateDistortion(SweepAnalysis a) => new(
        $"Rate, distortion and generation (stage-2 results at most {F(a.CommonCompute ?? double.NaN, "G3")} GPT FLOPs, the largest compute every tokenizer reached)",
        new[] { "tokenizer", "tokens", "K", "tokens × log2 K (bits)", "PSNR (dB)", "SSIM", "rFID", "codebook usage", "code entropy (bits)", "tokenizer FLOPs", "best bits/image", "its CE/token", "best FID" },
        a.RateDistortion.Select(r => new[]
        {
            r.Tokenizer.Name, r.Tokenizer.TokensPerImage.ToString(CultureInfo.InvariantCulture), r.Tokenizer.CodebookSize.ToString(CultureInfo.InvariantCulture),
            F(r.Tokenizer.CapacityBits, "F0"), F(r.Tokenizer.Psnr, "F2"), F(r.Tokenizer.Ssim, "F4"), F(r.Tokenizer.Rfid, "F2"), F(100 * r.Tokenizer.CodebookUsage, "F1") + "%",
            F(r.Tokenizer.CodeEntropyBits, "F2"), F(r.Tokenizer.TrainingFlops, "G3"),
            r.BestLoss is { } l ? $"{F(l.BitsPerImage, "F1")} ({l.Gpt} @ {l.Steps})" : "–", F(r.BestLoss?.CePerToken, "F4"),
            r.BestFid is { } g ? $"{F(g.Fid, "F2")} ({g.Gpt} @ {g.Steps})" : "–",
        }).ToList());

    public static ReportTable Tokenizers(SweepAnalysis a) => new("Tokenizers",
        new[] { "tokenizer", "preset", "CRT", "λ_max", "steps", "training FLOPs", "regulariser FLOP share", "CRT loss (test)", "used codes", "run" },
        a.Tokenizers.Select(t => new[]
        {
            t.Name + (t.Reused ? " (reused)" : ""), t.Preset, t.CrtEnabled ? "yes" : t.LambdaMax == 0 && t.CrtLoss is not null ? "λ = 0 probe" : "no", F(t.LambdaMax, "G3"),
            t.Steps.ToString(CultureInfo.InvariantCulture), F(t.TrainingFlops, "G3"), F(100 * t.RegularizerFlopFraction, "F1") + "%", F(t.CrtLoss, "F5"),
            t.UsedCodes.ToString(CultureInfo.InvariantCulture), t.RunDir,
        }).ToList(),
        "Training FLOPs of a baseline that carries the regulariser as a λ = 0 probe are its tokenizer's alone (the probe measures, it does not train the encoder).");

    public static ReportTable Points(SweepAnalysis a) => new("Every point",
        new[] { "tokenizer", "GPT", "parameters", "steps", "GPT FLOPs", "CE/token", "CE pos 0", "CE rest", "bits/image", "FID", "IS", "precision", "recall", "seconds" },
        a.Points.OrderBy(p => a.Plan.Gpt.Presets.ToList().IndexOf(p.Gpt)).ThenBy(p => a.Plan.Tokenizers.ToList().FindIndex(t => t.Name == p.Tokenizer)).ThenBy(p => p.Steps)
            .Select(p => new[]
            {
                p.Tokenizer, p.Gpt, p.GptParameters.ToString("N0", CultureInfo.InvariantCulture), p.Steps.ToString(CultureInfo.InvariantCulture), F(p.GptFlops, "G3"),
                F(p.CePerToken, "F4"), F(p.CePosition0, "F4"), F(p.CeRest, "F4"), F(p.BitsPerImage, "F1"), F(p.Fid, "F2"), F(p.IsMean, "F2"), F(p.Precision, "F3"), F(p.Recall, "F3"),
                F(p.Seconds, "F0"),
            }).ToList(),
        a.Points.FirstOrDefault(p => p.Fid is not null) is { } s
            ? $"CE on {s.ValSequences} validation sequences (variant 0); FID / IS / precision–recall (k = 3) under {s.FeatureNet} with {s.Samples} samples (cfg {F(s.Cfg, "G3")}) against {s.RealImages} test images — not InceptionV3, not comparable with published FIDs."
            : null);
}
