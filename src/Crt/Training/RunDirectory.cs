using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Crt.Data;
using Crt.Tensors.IO;

namespace Crt.Training;

/// <summary>
/// One run's folder: config.json (the resolved config), metrics.jsonl (one JSON object per line),
/// checkpoints/step-NNNNNNN/ (written completely, then published by rewriting checkpoints/latest),
/// images/ (PNG grids). A folder that already holds a run is only reopened with resume. A writer holds
/// the folder's lock (<see cref="RunLock"/>: one writing process per run); readers open it with <see cref="OpenToRead"/>.
/// </summary>
public sealed class RunDirectory
{
    public string Root { get; }
    public string ConfigPath => Path.Combine(Root, "config.json");
    public string MetricsPath => Path.Combine(Root, "metrics.jsonl");
    public string CheckpointsDir => Path.Combine(Root, "checkpoints");
    public string ImagesDir => Path.Combine(Root, "images");
    /// <summary>Written by crt import: the run holds weights from elsewhere and no optimizer or RNG state.</summary>
    public string ImportPath => Path.Combine(Root, "import.json");

    /// <summary>Training cannot continue an imported run: it has weights only (see <see cref="ImportPath"/>).</summary>
    public void RefuseResumeIfImported()
    {
        if (File.Exists(ImportPath))
            throw new ArgumentException($"{Root}: an imported run (import.json) holds weights only, no optimizer state; it can be sampled and evaluated, not resumed");
    }

    private bool _createdRoot;

    private RunDirectory(string root) => Root = root;

    /// <summary>
    /// Opens <paramref name="root"/> to write: a new run (it must not hold one) or, with <paramref name="resume"/>, an
    /// existing run. Takes the folder's lock first: a folder another process is writing is refused, naming that process.
    /// </summary>
    /// <param name="log">Told when a stale lock (of a process that died) is taken over.</param>
    public static RunDirectory Open(string root, bool resume, Action<string>? log = null)
    {
        var run = new RunDirectory(Path.GetFullPath(root));
        // before anything is created or locked: a resume of nothing leaves the folder as it was
        if (resume && !File.Exists(run.ConfigPath)) throw new ArgumentException($"{run.Root}: --resume given, but the folder holds no run (no config.json)");
        run._createdRoot = !Directory.Exists(run.Root);
        Directory.CreateDirectory(run.Root);
        try
        {
            if (RunLock.Acquire(run.Root) is { } stale) log?.Invoke($"{run.Root}: took over the lock left by {stale}, which is no longer running");
            // after the lock: a writer that was creating the run has finished writing its config
            if (!resume && File.Exists(run.ConfigPath)) throw new ArgumentException($"{run.Root}: the folder already holds a run; pass --resume to continue it, or choose another --out");
        }
        catch
        {
            run.DiscardIfUnused();
            throw;
        }
        Directory.CreateDirectory(run.CheckpointsDir);
        Directory.CreateDirectory(run.ImagesDir);
        run.RemoveLeftovers(log);
        return run;
    }

    /// <summary>
    /// Removes what a writer killed mid-write left behind: a half-written checkpoint folder (step-N.tmp: only the lock
    /// holder writes checkpoints, so any at this point is abandoned) and temporary files of processes no longer
    /// running. Neither was ever a complete file — a write is published by its rename — so nothing written is lost.
    /// </summary>
    private void RemoveLeftovers(Action<string>? log)
    {
        int folders = 0;
        foreach (var d in Directory.GetDirectories(CheckpointsDir, "step-*.tmp"))
        {
            Directory.Delete(d, recursive: true);
            folders++;
        }
        int files = TempFiles.RemoveStale(Root);
        if (folders + files > 0)
            log?.Invoke($"{Root}: removed what an interrupted run left half-written ({folders} checkpoint folder(s), {files} temporary file(s))");
    }

    /// <summary>Opens an existing run to read it (no lock: reading a run that is still training is allowed; nothing is created).</summary>
    public static RunDirectory OpenToRead(string root)
    {
        var run = new RunDirectory(Path.GetFullPath(root));
        if (!File.Exists(run.ConfigPath)) throw new ArgumentException($"{run.Root}: the folder holds no run (no config.json)");
        return run;
    }

    /// <summary>Removes what <see cref="Open"/> created for a run that failed to start (only if nothing was written into it).</summary>
    public void DiscardIfUnused()
    {
        if (!_createdRoot || File.Exists(ConfigPath) || !Directory.Exists(Root)) return;
        bool ours = RunLock.IsHeld(Root);
        bool empty = !Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories)
            .Any(f => !(ours && Path.GetDirectoryName(f) == Root && Path.GetFileName(f) is ".lock" or ".lock.owner"));
        if (!empty) return;
        RunLock.Release(Root);
        Directory.Delete(Root, recursive: true);
    }

    public void WriteConfig(string json) => AtomicFile.WriteAllText(ConfigPath, json + "\n");

    public string ReadConfig() => File.ReadAllText(ConfigPath);

    // ---- metrics ---------------------------------------------------------------------------------

    /// <summary>Appends one record; values are numbers or strings. Each line is flushed, so a crash loses at most the line being written.</summary>
    public void AppendMetrics(string kind, long step, IReadOnlyDictionary<string, object?> values)
    {
        var obj = new JsonObject { ["kind"] = kind, ["step"] = step, ["time"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture) };
        foreach (var (k, v) in values)
            obj[k] = v switch
            {
                null => null,
                double d => double.IsFinite(d) ? JsonValue.Create(d) : JsonValue.Create(d.ToString(CultureInfo.InvariantCulture)),
                float f => double.IsFinite(f) ? JsonValue.Create((double)f) : JsonValue.Create(f.ToString(CultureInfo.InvariantCulture)),
                int i => JsonValue.Create(i),
                long l => JsonValue.Create(l),
                string s => JsonValue.Create(s),
                double[] a => new JsonArray(a.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray()),
                _ => JsonValue.Create(v.ToString()),
            };
        using var file = new FileStream(MetricsPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        using var w = new StreamWriter(file);
        w.WriteLine(obj.ToJsonString());
    }

    /// <summary>All records in metrics.jsonl (a torn last line from a crash is skipped).</summary>
    public List<JsonObject> ReadMetrics()
    {
        var result = new List<JsonObject>();
        if (!File.Exists(MetricsPath)) return result;
        foreach (var line in File.ReadLines(MetricsPath))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try { if (JsonText.Parse(line) is JsonObject o) result.Add(o); }
            catch (JsonException) { /* torn last line */ }
        }
        return result;
    }

    /// <summary>Drops records after <paramref name="step"/> (on resume from a checkpoint at that step, so the log has no duplicate steps).</summary>
    public void TruncateMetricsAfter(long step)
    {
        var kept = ReadMetrics().Where(o => (long?)o["step"] is not { } s || s <= step).Select(o => o.ToJsonString());
        AtomicFile.WriteAllText(MetricsPath, string.Concat(kept.Select(l => l + "\n")));
    }

    // ---- checkpoints -------------------------------------------------------------------------------

    public string CheckpointDir(long step) => Path.Combine(CheckpointsDir, $"step-{step:D7}");

    /// <summary>
    /// Writes a checkpoint: <paramref name="write"/> fills a fresh temporary folder, which is then renamed
    /// into place and published in checkpoints/latest. Older checkpoints beyond <paramref name="keep"/> are removed.
    /// </summary>
    public string SaveCheckpoint(long step, Action<string> write, int keep = 2)
    {
        var final = CheckpointDir(step);
        var tmp = final + ".tmp";
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        try { write(tmp); }
        catch (IOException e)
        {
            // A full disk (or any write error) mid-checkpoint: the partial folder goes, the published one stays.
            try { Directory.Delete(tmp, recursive: true); } catch (IOException) { }
            var kept = File.Exists(Path.Combine(CheckpointsDir, "latest")) ? File.ReadAllText(Path.Combine(CheckpointsDir, "latest")).Trim() : null;
            throw new IOException($"{final}: the checkpoint could not be written ({e.Message.TrimEnd('.')}); " +
                (kept is null ? "no earlier checkpoint exists" : $"the newest complete checkpoint is still {kept}"), e);
        }
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(tmp, final);
        AtomicFile.WriteAllText(Path.Combine(CheckpointsDir, "latest"), Path.GetFileName(final) + "\n");
        var old = Directory.GetDirectories(CheckpointsDir, "step-*").Where(d => !d.EndsWith(".tmp", StringComparison.Ordinal))
            .OrderBy(d => d, StringComparer.Ordinal).ToList();
        foreach (var d in old.Take(Math.Max(0, old.Count - keep))) Directory.Delete(d, recursive: true);
        return final;
    }

    /// <summary>The published latest checkpoint folder, or null when none was written.</summary>
    public string? LatestCheckpoint()
    {
        var pointer = Path.Combine(CheckpointsDir, "latest");
        if (!File.Exists(pointer)) return null;
        var dir = Path.Combine(CheckpointsDir, File.ReadAllText(pointer).Trim());
        if (!Directory.Exists(dir)) throw new InvalidDataException($"{pointer}: names checkpoint {dir}, which does not exist");
        return dir;
    }
}
