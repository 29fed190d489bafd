using System.Text.Json.Nodes;
using Crt.Tensors.IO;
using Crt.Training;

namespace Crt.Reporting;

public enum RunKind { Tokenizer, Gpt }

/// <summary>
/// What a report needs from one run directory, read from its files alone (config.json, metrics.jsonl,
/// the eval JSON files and the PNG grids), so a report can be rebuilt long after the run ended.
/// </summary>
public sealed record RunSummary(string Root, string Name, RunKind Kind, JsonObject Config, List<JsonObject> Train, List<JsonObject> Val,
    Dictionary<string, JsonObject> Evaluations, List<(string Caption, string Path)> Images)
{
    public JsonObject? LastTrain => Train.Count > 0 ? Train[^1] : null;
    public JsonObject? LastVal => Val.Count > 0 ? Val[^1] : null;
    public long Steps => (long?)LastTrain?["step"] ?? 0;
    public double Flops => (double?)LastTrain?["flops"] ?? 0;

    /// <summary>True when <paramref name="dir"/> holds a run's config.json (a tokenizer or GPT run).</summary>
    public static bool IsRun(string dir) => File.Exists(Path.Combine(dir, "config.json"));

    public static RunSummary Load(string dir)
    {
        var root = Path.GetFullPath(dir);
        var configPath = Path.Combine(root, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{dir}: not a run directory (no config.json)");
        JsonObject config;
        try { config = JsonText.Parse(File.ReadAllText(configPath)) as JsonObject ?? throw new InvalidDataException("not a JSON object"); }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidDataException)
        {
            throw new InvalidDataException($"{configPath}: unreadable run config ({e.Message})", e);
        }
        RunKind kind = config.ContainsKey("tokens") ? RunKind.Gpt
            : config["model"]?["codebook_size"] is not null ? RunKind.Tokenizer
            : throw new InvalidDataException($"{configPath}: neither a tokenizer run (model.codebook_size) nor a GPT run (tokens)");
        var metrics = File.Exists(Path.Combine(root, "metrics.jsonl")) ? RunDirectory.OpenToRead(root).ReadMetrics() : new List<JsonObject>();
        var evaluations = new Dictionary<string, JsonObject>();
        foreach (var name in new[] { "eval-reconstruction.json", "eval-generation.json", "modelability.json" })
        {
            var p = Path.Combine(root, name);
            if (File.Exists(p) && JsonText.Parse(File.ReadAllText(p)) is JsonObject o) evaluations[name] = o;
        }
        return new RunSummary(root, Path.GetFileName(root.TrimEnd(Path.DirectorySeparatorChar)), kind, config,
            metrics.Where(m => (string?)m["kind"] == "train").ToList(), metrics.Where(m => (string?)m["kind"] == "val").ToList(),
            evaluations, FindImages(root, kind));
    }

    /// <summary>Runs whose folder names repeat (runs/a/baseline, runs/b/baseline) are named with their parent folder too.</summary>
    public static List<RunSummary> WithDistinctNames(List<RunSummary> runs) => runs
        .Select(r => runs.Count(o => o.Name == r.Name) > 1 ? r with { Name = $"{Path.GetFileName(Path.GetDirectoryName(r.Root))}/{r.Name}" } : r)
        .ToList();

    /// <summary>The newest reconstruction grid (tokenizer) or every sample grid (GPT) the run wrote.</summary>
    private static List<(string, string)> FindImages(string root, RunKind kind)
    {
        var images = new List<(string, string)>();
        var imagesDir = Path.Combine(root, "images");
        if (kind == RunKind.Tokenizer && Directory.Exists(imagesDir))
        {
            var latest = Directory.GetFiles(imagesDir, "recon-step-*.png").OrderBy(p => p, StringComparer.Ordinal).LastOrDefault();
            if (latest is not null) images.Add(($"validation reconstructions, {Path.GetFileNameWithoutExtension(latest)[6..]}", latest));
            var test = Path.Combine(imagesDir, "recon-test.png");
            if (File.Exists(test)) images.Add(("test reconstructions", test));
        }
        if (kind == RunKind.Gpt)
            foreach (var sub in new[] { "samples-per-class", "samples", "eval-samples" })
            {
                if (sub != "samples-per-class" && images.Count > 0) break; // the per-class grid says it; the big ones only weigh the page down
                var grid = Path.Combine(root, sub, "grid.png");
                if (File.Exists(grid)) images.Add((sub, grid));
            }
        return images;
    }
}
