using System.Globalization;
using System.Text;
using Crt.Data;
using Crt.Reporting;

namespace Crt.Scaling;

/// <summary>
/// Writes a sweep's report.html (self-contained: tables, SVG plots, reconstructions and samples inline)
/// and results.md (the same tables in markdown, with the claims stated plainly) into the sweep folder.
/// </summary>
public static class SweepReport
{
    public static (string Html, string Markdown) Write(SweepPlan plan, string dir, SweepAnalysis a, string command)
    {
        var setup = Setup(plan, a, command);
        var tables = new[] { SweepTables.Claims(a), SweepTables.Fits(a), SweepTables.Efficiency(a), SweepTables.RateDistortion(a), SweepTables.Tokenizers(a), SweepTables.Points(a) };

        // The headline plots also go to figures/*.svg, so results.md (and documents made from it) can show them.
        var figures = new List<(string Caption, string File)>();
        string Figure(string file, string caption, string svg)
        {
            Directory.CreateDirectory(Path.Combine(dir, "figures"));
            AtomicFile.WriteAllText(Path.Combine(dir, "figures", file), svg);
            figures.Add((caption, $"figures/{file}"));
            return svg;
        }

        var r = new HtmlReport("crt sweep: the compression–generation trade-off as scaling laws");
        foreach (var para in setup) r.Paragraph(para);
        Table(r, tables[0]);
        r.Heading("Compute-optimal frontiers");
        r.Svg(Figure("frontier-loss.svg", "Compute-optimal frontiers of validation loss, with their power-law fits", SweepCharts.Frontiers(a, SweepMetric.Loss)));
        if (plan.Eval.Samples > 0) r.Svg(Figure("frontier-fid.svg", "Compute-optimal frontiers of FID, with their power-law fits", SweepCharts.Frontiers(a, SweepMetric.Fid)));
        Table(r, tables[1]);
        r.Heading("Compute efficiency");
        int k = 0;
        foreach (var e in a.Efficiencies.Where(e => e.Rows.Count > 0))
            r.Svg(Figure($"efficiency-{++k}.svg", $"Compute the baseline needs ÷ compute {e.Other} needs to reach the same {e.Metric.Label}", SweepCharts.Efficiency(e)));
        Table(r, tables[2]);
        Table(r, tables[3]);
        r.Heading("Learning curves (checkpoints of one run per size)");
        foreach (var t in a.Tokenizers)
        {
            r.Svg(SweepCharts.LearningCurves(a, t.Name, SweepMetric.Loss));
            if (plan.Eval.Samples > 0) r.Svg(SweepCharts.LearningCurves(a, t.Name, SweepMetric.Fid));
        }
        r.Svg(Figure("per-position.svg", "Validation CE per token position at each size's longest run", SweepCharts.PerPosition(a)));
        r.Heading("Reconstructions (test; top: originals, bottom: reconstructions)");
        r.Images(a.Tokenizers.Select(t => (t.Name, Path.Combine(dir, "images", $"recon-{t.Name}.png"))));
        if (plan.Eval.Samples > 0)
        {
            r.Heading("Samples of the largest GPT at its longest run (one column per class)");
            r.Images(a.Tokenizers.Select(t => a.Points.Where(p => p.Tokenizer == t.Name).OrderByDescending(p => Array.IndexOf(plan.Gpt.Presets, p.Gpt)).ThenByDescending(p => p.Steps).FirstOrDefault())
                .Where(p => p is not null).Select(p => ($"{p!.Tokenizer}: {p.Gpt} @ {p.Steps} steps", Path.Combine(dir, "gpt", p.Tokenizer, p.Gpt, "samples", $"step-{p.Steps:D7}", "grid.png"))));
        }
        Table(r, tables[4]);
        Table(r, tables[5]);
        var html = Path.Combine(dir, "report.html");
        r.Save(html);

        var md = new StringBuilder("# crt sweep: results\n\n");
        foreach (var para in setup) md.Append(para).Append("\n\n");
        Markdown(md, tables[0]);
        foreach (var (caption, file) in figures) md.Append(CultureInfo.InvariantCulture, $"![{caption}]({file})\n\n");
        foreach (var t in tables.Skip(1)) Markdown(md, t);
        var results = Path.Combine(dir, "results.md");
        AtomicFile.WriteAllText(results, md.ToString());
        return (html, results);
    }

    private static List<string> Setup(SweepPlan plan, SweepAnalysis a, string command)
    {
        string F(double v, string f) => v.ToString(f, CultureInfo.InvariantCulture);
        var list = new List<string>();
        if (plan.Description.Length > 0) list.Add(plan.Description);
        list.Add($"Plan {plan.Path}: {a.Points.Count} of {plan.PointCount} points recorded — tokenizers {string.Join(", ", plan.Tokenizers.Select(t => t.Name))} (baseline: {plan.Baseline}" +
                 (plan.Crt is null ? "" : $", CRT: {plan.Crt}") + $"); GPT sizes {string.Join(", ", plan.Gpt.Presets)}; data {plan.Data}, tokens of {plan.Tokenize.TrainImages} training images " +
                 $"({string.Join(", ", plan.Tokenize.Variants)}).");
        list.Add($"Training lengths {string.Join(", ", plan.Gpt.Steps)} steps are checkpoints of one run per (tokenizer, GPT size), batch {plan.Gpt.BatchSize}, " +
                 $"learning rate {F(plan.Gpt.Lr, "G3")} held constant: a prefix of a constant-LR run is taken to be a valid shorter run (with a decaying schedule it would not be, " +
                 "and the shorter runs would look worse than runs tuned for their length).");
        list.Add("Compute C is the GPT's training FLOPs as the engine counts them (matmuls, convolutions, attention; a step is 3× its forward). Tokenizer compute is reported apart " +
                 "and is equal between the baseline and the CRT tokenizer when the plan matches them.");
        list.Add($"Wall time recorded: {F(a.RecordedSeconds / 60, "F1")} min ({F(a.Tokenizers.Sum(t => t.Seconds) / 60, "F1")} min stage 1, {F(a.Points.Sum(p => p.Seconds) / 60, "F1")} min points) " +
                 $"{WhereMeasured(a.RecordedSecondsByMachine)}; report made {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC" + (command.Length > 0 ? $" by: {command}" : "") + ".");
        return list;
    }

    /// <summary>The machines the recorded wall time was measured on, with each one's share when there are several.</summary>
    internal static string WhereMeasured(IReadOnlyList<(string? Machine, double Seconds)> byMachine)
    {
        static string Name(string? m) => m ?? "machines not named (records made before the machine was recorded)";
        if (byMachine.Count == 0) return "on no machine yet";
        if (byMachine.Count == 1) return $"on {Name(byMachine[0].Machine)}";
        return "on several machines, whose times do not compare: " + string.Join("; ", byMachine.Select(m =>
            $"{(m.Seconds / 60).ToString("F1", CultureInfo.InvariantCulture)} min on {Name(m.Machine)}"));
    }

    private static void Table(HtmlReport r, ReportTable t)
    {
        r.Heading(t.Title);
        r.Table(t.Header, t.Rows);
        if (t.Note is not null) r.Raw($"<p class=\"note\">{System.Net.WebUtility.HtmlEncode(t.Note)}</p>");
    }

    private static void Markdown(StringBuilder md, ReportTable t)
    {
        static string Cell(string s) => s.Replace("|", "\\|").Replace("\n", " ");
        md.Append("## ").Append(t.Title).Append("\n\n");
        md.Append("| ").Append(string.Join(" | ", t.Header.Select(Cell))).Append(" |\n");
        md.Append('|').Append(string.Concat(t.Header.Select(_ => "---|"))).Append('\n');
        foreach (var row in t.Rows) md.Append("| ").Append(string.Join(" | ", row.Select(Cell))).Append(" |\n");
        if (t.Rows.Count == 0) md.Append("\n(none yet)\n");
        if (t.Note is not null) md.Append('\n').Append(t.Note).Append('\n');
        md.Append('\n');
    }
}
