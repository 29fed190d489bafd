using Crt.Reporting;

namespace Crt.Scaling;

/// <summary>The sweep's plots as SVG: log-log frontiers with their fits, learning curves per size, per-position CE, efficiency ratios.</summary>
public static class SweepCharts
{
    /// <summary>Every point of a metric against compute (one colour per tokenizer), the frontier as a dashed line and the fitted law as a solid one.</summary>
    public static string Frontiers(SweepAnalysis a, SweepMetric metric)
    {
        var chart = new SvgChart { Title = $"{metric.Label} against GPT training compute", XLabel = "GPT training FLOPs", YLabel = metric.Label, LogX = true, LogY = true, Width = 760, Height = 420 };
        foreach (var (f, i) in a.Fits.Where(f => f.Metric == metric).Select((f, i) => (f, i)))
        {
            string alpha = f.Fit.Law is { } l ? $" (α = {l.Alpha:F3}{(f.Fit.Converged ? "" : ", unreliable")})" : " (no fit)";
            chart.Add(f.Tokenizer + alpha, f.Points.Select(p => p.Compute), f.Points.Select(p => p.Value), points: true, color: i);
            chart.Add(f.Tokenizer + " frontier", f.Frontier.Select(p => p.Compute), f.Frontier.Select(p => p.Value), dashed: true, color: i, legend: false);
            if (f.Fit.Law is { } law && f.Frontier.Count > 1)
            {
                var xs = Grid(f.Frontier[0].Compute, f.Frontier[^1].Compute, 40);
                chart.Add(f.Tokenizer + " fit", xs, xs.Select(law.Evaluate), color: i, legend: false);
            }
        }
        return chart.Render();
    }

    /// <summary>One tokenizer's runs: the metric against compute, one line per GPT size (the checkpoints of one run).</summary>
    public static string LearningCurves(SweepAnalysis a, string tokenizer, SweepMetric metric)
    {
        var chart = new SvgChart { Title = $"{tokenizer}: {metric.Label} per GPT size", XLabel = "GPT training FLOPs", YLabel = metric.Label, LogX = true, LogY = true };
        foreach (var (preset, i) in a.Plan.Gpt.Presets.Select((p, i) => (p, i)))
        {
            var pts = a.Points.Where(p => p.Tokenizer == tokenizer && p.Gpt == preset && metric.Of(p) is not null).OrderBy(p => p.Steps).ToList();
            if (pts.Count > 0) chart.Add(preset, pts.Select(p => p.GptFlops), pts.Select(p => metric.Of(p)!.Value), color: i);
        }
        return chart.Render();
    }

    /// <summary>CE per position of every tokenizer at the largest GPT's longest measured run.</summary>
    public static string PerPosition(SweepAnalysis a)
    {
        var chart = new SvgChart { Title = "Validation CE per token position (largest GPT, longest run)", XLabel = "position (raster order)", YLabel = "CE (nats)" };
        foreach (var (t, i) in a.Tokenizers.Select((t, i) => (t, i)))
        {
            var p = a.Points.Where(p => p.Tokenizer == t.Name).OrderByDescending(p => a.Plan.Gpt.Presets.ToList().IndexOf(p.Gpt)).ThenByDescending(p => p.Steps).FirstOrDefault();
            if (p is not null) chart.Add($"{t.Name} ({p.Gpt} @ {p.Steps})", Enumerable.Range(0, p.CePerPosition.Length).Select(x => (double)x), p.CePerPosition, color: i);
        }
        return chart.Render();
    }

    /// <summary>The compute-efficiency ratio against the target value: fitted (solid), its 95% interval (dashed), empirical (points).</summary>
    public static string Efficiency(EfficiencyComparison e)
    {
        var chart = new SvgChart { Title = $"{e.Other} vs {e.Baseline}: compute ratio to reach the same {e.Metric.Label}", XLabel = $"target {e.Metric.Label}", YLabel = "baseline ÷ other compute", LogY = true };
        var fitted = e.Rows.Where(r => r.Fitted is not null).ToList();
        chart.Add("fitted", fitted.Select(r => r.Target), fitted.Select(r => r.Fitted!.Value), color: 0);
        var band = e.Rows.Where(r => double.IsFinite(r.Lo)).ToList();
        chart.Add("95% interval", band.Select(r => r.Target), band.Select(r => r.Lo), dashed: true, color: 0);
        chart.Add("95% interval, upper", band.Select(r => r.Target), band.Select(r => r.Hi), dashed: true, color: 0, legend: false);
        var emp = e.Rows.Where(r => r.Empirical is not null).ToList();
        chart.Add("empirical frontiers", emp.Select(r => r.Target), emp.Select(r => r.Empirical!.Value), points: true, color: 1);
        chart.Add("equal compute", new[] { e.Rows.Select(r => r.Target).DefaultIfEmpty(0).Min(), e.Rows.Select(r => r.Target).DefaultIfEmpty(1).Max() }, new[] { 1.0, 1.0 }, dashed: true, color: 7);
        return chart.Render();
    }

    private static double[] Grid(double from, double to, int n) =>
        Enumerable.Range(0, n).Select(i => Math.Exp(Math.Log(from) + (Math.Log(to) - Math.Log(from)) * i / (n - 1.0))).ToArray();
}
