using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Crt.Reporting;

/// <summary>
/// report.html of one run, or a comparison of several: metric tables, loss and validation curves
/// (one series per run), per-position CE, reconstruction and sample grids, and each run's config.
/// Built from the run directories' files alone, so <c>crt report</c> can rebuild it at any time.
/// </summary>
public static class RunReport
{
    /// <summary>Writes the report of <paramref name="runs"/> to <paramref name="path"/>.</summary>
    public static void Write(IReadOnlyList<RunSummary> runs, string path)
    {
        if (runs.Count == 0) throw new ArgumentException("report: no runs given");
        string title = runs.Count == 1
            ? $"crt {(runs[0].Kind == RunKind.Tokenizer ? "tokenizer" : "GPT")} run {runs[0].Name}"
            : $"crt: {runs.Count} runs compared ({string.Join(", ", runs.Select(r => r.Name))})";
        var r = new HtmlReport(title);
        r.Paragraph($"Built {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC from {string.Join(", ", runs.Select(x => x.Root))}.");
        var toks = runs.Where(x => x.Kind == RunKind.Tokenizer).ToList();
        var gpts = runs.Where(x => x.Kind == RunKind.Gpt).ToList();
        if (toks.Count > 0) TokenizerSection(r, toks);
        if (gpts.Count > 0) GptSection(r, gpts);
        r.Heading("Configurations");
        foreach (var run in runs)
            r.Raw($"<details><summary>{Esc(run.Name)} ({Esc(run.Root)})</summary><pre>{Esc(run.Config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }))}</pre></details>");
        r.Save(path);
    }

    /// <summary>The run directory's own report.html (rewritten at the end of training and by <c>crt report RUN</c>).</summary>
    public static string WriteForRun(string runDir)
    {
        var path = Path.Combine(runDir, "report.html");
        Write(new[] { RunSummary.Load(runDir) }, path);
        return path;
    }

    /// <summary>
    /// <see cref="WriteForRun"/> for a trainer at the end of its run: a report that cannot be written is a
    /// warning in the log, never a reason to lose the training that just finished.
    /// </summary>
    public static void TryWriteForRun(string runDir, Action<string> log)
    {
        try { WriteForRun(runDir); }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException)
        {
            log($"warning: could not write {Path.Combine(runDir, "report.html")}: {e.Message}");
        }
    }

    private static void TokenizerSection(HtmlReport r, List<RunSummary> runs)
    {
        r.Heading("Tokenizer");
        r.Table(new[] { "measure" }.Concat(runs.Select(x => x.Name)).ToList(), new[]
        {
            Row("steps", runs, x => x.Steps, "N0"),
            Row("training FLOPs", runs, x => x.Flops, "G3"),
            Row("λ_max (CRT)", runs, x => (bool?)x.Config["crt"]?["enabled"] == true ? (double?)x.Config["crt"]?["lambda_max"] : null, "G3"),
            Row("validation PSNR (dB)", runs, x => Num(x.LastVal, "psnr"), "F2"),
            Row("validation SSIM", runs, x => Num(x.LastVal, "ssim"), "F4"),
            Row("codebook usage", runs, x => Num(x.LastVal, "codebook_usage") * 100, "F1", "%"),
            Row("code entropy (bits)", runs, x => Num(x.LastVal, "code_entropy_bits"), "F2"),
            Row("CRT loss on validation latents", runs, x => Num(x.LastVal, "crt_loss"), "F5"),
            Row("eval PSNR (dB)", runs, x => Num(Eval(x, "eval-reconstruction.json"), "psnr"), "F2"),
            Row("eval rFID", runs, x => FirstPrefixed(Eval(x, "eval-reconstruction.json"), "rfid_"), "F3"),
        }.Where(HasValue));
        if (runs.Any(x => (bool?)x.Config["crt"]?["enabled"] == true && (double?)x.Config["crt"]?["lambda_max"] == 0))
            r.Raw("<p class=\"note\">A run with λ_max = 0 is a baseline carrying the CRT regulariser as a probe: it learns to predict the " +
                  "baseline's latents (so its CRT loss can be compared) but sends no gradient to the encoder; its training FLOPs include the probe's.</p>");
        r.Svg(Curves("Reconstruction loss (training)", runs, x => x.Train, "rec_loss", "step"));
        if (runs.Any(x => x.Train.Any(m => Num(m, "crt_loss") is not null)))
            r.Svg(Curves("CRT loss (training; baselines carry a λ = 0 probe)", runs, x => x.Train, "crt_loss", "step", logY: true));
        r.Svg(Curves("Validation PSNR against training compute", runs, x => x.Val, "psnr", "flops"));
        r.Svg(Curves("Validation codebook usage", runs, x => x.Val, "codebook_usage", "step"));
        r.Images(runs.SelectMany(x => x.Images.Select(i => ($"{x.Name}: {i.Caption}", i.Path))));
    }

    private static void GptSection(HtmlReport r, List<RunSummary> runs)
    {
        r.Heading("GPT");
        r.Table(new[] { "measure" }.Concat(runs.Select(x => x.Name)).ToList(), new[]
        {
            Row("steps", runs, x => x.Steps, "N0"),
            Row("training FLOPs", runs, x => x.Flops, "G3"),
            Row("validation CE per token (nats)", runs, x => Num(x.LastVal, "ce_per_token"), "F4"),
            Row("validation CE, position 0", runs, x => Num(x.LastVal, "ce_position0"), "F4"),
            Row("bits per image", runs, x => Num(x.LastVal, "bits_per_image"), "F1"),
            Row("eval FID", runs, x => FirstPrefixed(Eval(x, "eval-generation.json"), "fid_"), "F3"),
            Row("eval IS", runs, x => FirstPrefixed(Eval(x, "eval-generation.json"), "is_"), "F3"),
            Row("eval precision", runs, x => Num(Eval(x, "eval-generation.json"), "precision"), "F3"),
            Row("eval recall", runs, x => Num(Eval(x, "eval-generation.json"), "recall"), "F3"),
        }.Where(HasValue));
        var nets = runs.Select(x => (string?)Eval(x, "eval-generation.json")?["feature_net"]).Where(n => n is not null).Distinct().ToList();
        if (nets.Count > 0) r.Raw($"<p class=\"note\">FID / IS / precision-recall under {Esc(string.Join(", ", nets!))}; see each run's eval-generation.json for sample counts.</p>");
        r.Svg(Curves("Training loss against compute", runs, x => x.Train, "loss", "flops", logX: true));
        r.Svg(Curves("Validation CE per token against compute", runs, x => x.Val, "ce_per_token", "flops", logX: true));
        var perPosition = new SvgChart { Title = "Validation CE per token position (last validation)", XLabel = "position (raster order)", YLabel = "CE (nats)" };
        foreach (var run in runs)
            if (run.LastVal?["ce_per_position"] is JsonArray a)
                perPosition.Add(run.Name, Enumerable.Range(0, a.Count).Select(i => (double)i), a.Select(v => (double)v!));
        r.Svg(perPosition.Render());
        r.Images(runs.SelectMany(x => x.Images.Select(i => ($"{x.Name}: {i.Caption}", i.Path))));
    }

    /// <summary>One series per run: <paramref name="key"/> of the chosen metrics records against <paramref name="xKey"/> ("step" or "flops").</summary>
    public static string Curves(string title, IReadOnlyList<RunSummary> runs, Func<RunSummary, List<JsonObject>> records, string key, string xKey,
        bool logX = false, bool logY = false, string? xLabel = null)
    {
        var chart = new SvgChart { Title = title, XLabel = xLabel ?? (xKey == "flops" ? "training FLOPs" : xKey), YLabel = key, LogX = logX, LogY = logY };
        foreach (var run in runs)
        {
            var rows = records(run).Where(m => Num(m, key) is not null && Num(m, xKey) is not null).ToList();
            chart.Add(run.Name, rows.Select(m => Num(m, xKey)!.Value), rows.Select(m => Num(m, key)!.Value));
        }
        return chart.Render();
    }

    private static JsonObject? Eval(RunSummary run, string file) => run.Evaluations.GetValueOrDefault(file);

    private static double? Num(JsonObject? o, string key) =>
        o?[key] is JsonValue v && v.TryGetValue<double>(out var d) && double.IsFinite(d) ? d : null;

    private static double? FirstPrefixed(JsonObject? o, string prefix) =>
        o?.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(kv => Num(o, kv.Key)).FirstOrDefault(v => v is not null);

    private static string[] Row(string label, List<RunSummary> runs, Func<RunSummary, double?> value, string format, string unit = "") =>
        new[] { label }.Concat(runs.Select(x => value(x) is { } v ? v.ToString(format, CultureInfo.InvariantCulture) + unit : "—")).ToArray();

    private static bool HasValue(string[] row) => row.Skip(1).Any(c => c != "—");

    private static string Esc(string s) => WebUtility.HtmlEncode(s);
}
