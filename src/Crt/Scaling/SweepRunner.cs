using Crt.Tensors;
using System.Diagnostics;
using System.Globalization;
using Crt.Data;

namespace Crt.Scaling;

/// <summary>How a sweep runs: its folder, verbosity, the command to quote in the report, and a hook called after each recorded point.</summary>
/// <param name="Device">Where every model of the sweep trains and is measured (the CPU when null); not part of the plan.</param>
/// <param name="Only">When given, only these tokenizers (and their points) are trained and measured now; the reports still cover
/// everything recorded. A large study is run this way in parts that each fit a session.</param>
public sealed record SweepOptions(string Out, bool Quiet = false, string Command = "", Action<PointRecord>? AfterPoint = null, Device? Device = null,
    IReadOnlySet<string>? Only = null)
{
    public bool Includes(SweepTokenizer t) => Only is null || Only.Contains(t.Name);
}

/// <summary>What a sweep invocation left: the folder, how many points it measured now and how many are recorded, and the reports.</summary>
public sealed record SweepOutcome(string Dir, int Measured, int Recorded, int Planned, string Report, string Results);

/// <summary>
/// Runs a <see cref="SweepPlan"/> one tokenizer at a time: the tokenizer (stage 1), then each of its
/// (GPT preset, steps) points, smallest GPTs first, each appended to points.jsonl as soon as it is measured. What is recorded
/// is skipped, runs continue from their checkpoints, so an interrupted sweep (Ctrl-C or a kill) carries
/// on when run again. It ends by fitting and writing the reports (<see cref="SweepReport"/>).
/// </summary>
public static class SweepRunner
{
    public static SweepOutcome Run(SweepPlan plan, SweepOptions o, CancellationToken cancel, Action<string> log)
    {
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(o.Out);
        AtomicFile.WriteAllText(Path.Combine(o.Out, "plan.json"), plan.ToJson() + "\n");
        var pointLog = new PointLog(Path.Combine(o.Out, "points.jsonl"));
        var (tokRecords, pointRecords) = pointLog.Read();
        var ctx = new SweepContext(plan, Path.GetFullPath(o.Out), o.Quiet, log, cancel, o.Device ?? Device.Cpu);
        log($"crt sweep {plan.Path} → {ctx.Dir}");
        log($"{plan.Tokenizers.Count} tokenizers × {plan.Gpt.Presets.Length} GPT sizes × {plan.Gpt.Steps.Length} training lengths = {plan.PointCount} points " +
            $"({pointRecords.Count(p => IsPlanned(plan, p))} already recorded; those measured under another feature network are measured again). The training lengths ({string.Join(", ", plan.Gpt.Steps)} steps) are checkpoints " +
            "of one run per (tokenizer, GPT size), measured as the run passes them.");
        if (o.Only is not null)
            log($"only {string.Join(", ", plan.Tokenizers.Where(o.Includes).Select(t => t.Name))} now (--only); the others are left as they are");

        // Before any work: runs already in the folder must have been made with the settings the plan gives them now,
        // or their recorded points would be reported under settings they were not made with.
        foreach (var t in plan.Tokenizers)
        {
            SweepTokenizerStage.EnsureSameSettings(ctx, t);
            foreach (var preset in plan.Gpt.Presets) SweepGptStage.EnsureSameSettings(ctx, t.Name, preset);
        }

        // One tokenizer at a time: train it (stage 1), then measure all of its points (stage 2), then the next. A study
        // that spans sessions keeps only what points.jsonl records (tokenizer weights stay on the machine), so this
        // order loses at most one tokenizer's work when a session ends, where training every tokenizer first could
        // lose them all. Tokenizers whose points are all recorded are skipped.
        var done = pointRecords.ToDictionary(p => p.Key);
        var tokenizers = plan.Tokenizers.Where(o.Includes).ToList();
        var all = tokenizers.SelectMany(t => plan.Points().Where(p => p.Tokenizer.Name == t.Name)).ToList(); // in the order they run
        // A point counts as recorded only when measured under the feature network in use now (SweepContext.MeasuredHere).
        bool Recorded((SweepTokenizer Tokenizer, string Preset, long Steps) p) =>
            done.TryGetValue(SweepKeys.Point(p.Tokenizer.Name, p.Preset, p.Steps), out var r) && ctx.MeasuredHere(r);
        var eta = new SweepEta(plan, tokRecords);
        int measured = 0;
        foreach (var t in tokenizers)
        {
            int number = plan.Tokenizers.TakeWhile(u => u.Name != t.Name).Count() + 1;
            var recorded = tokRecords.FirstOrDefault(r => r.Name == t.Name);
            ctx.UseImagesOf(t.Name, SweepTokenizerStage.ConfigOf(t)); // how FIDs read the images: needed to know the feature network
            if (recorded is not null && ctx.MeasuredHere(recorded) && all.Where(p => p.Tokenizer.Name == t.Name).All(Recorded)) continue;
            ctx.ThrowIfCancelled();
            log($"[tokenizer {number}/{plan.Tokenizers.Count}] {t.Name}");
            var tokenizerClock = Stopwatch.StartNew();
            var prepared = SweepTokenizerStage.Prepare(ctx, t, recorded, pointLog);
            eta.Prepared(prepared.Record, tokenizerClock.Elapsed.TotalSeconds);

            for (int k = 0; k < all.Count; k++)
            {
                var (_, preset, steps) = all[k];
                if (all[k].Tokenizer.Name != t.Name) continue;
                if (done.TryGetValue(SweepKeys.Point(t.Name, preset, steps), out var old) && prepared.Record.Sha256 == old.TokenizerSha256 && ctx.MeasuredHere(old))
                    continue;
                ctx.ThrowIfCancelled();
                log($"[point {k + 1}/{all.Count}] {t.Name} · {preset} · {steps} steps");
                var previous = done.Values.Where(r => r.Tokenizer == t.Name && r.Gpt == preset && r.Steps < steps && r.TokenizerSha256 == prepared.Record.Sha256).MaxBy(r => r.Steps);
                var p = SweepGptStage.Measure(ctx, prepared, preset, steps, previous);
                if (p is null) continue;
                pointLog.Append(p);
                done[p.Key] = p;
                measured++;
                eta.Measured(p, SweepEta.PreviousSteps(plan, steps));
                var todo = all.Where(q => !Recorded(q)).ToList();
                var left = eta.SecondsLeft(todo.Select(q => (q.Tokenizer.Name, q.Preset, q.Steps, SweepEta.PreviousSteps(plan, q.Steps))),
                    tokenizersToPrepare: todo.Select(q => q.Tokenizer.Name).Distinct().Count(n => n != t.Name));
                string fid = p.Fid is { } f ? string.Create(CultureInfo.InvariantCulture, $", FID ({p.FeatureNet}, {p.Samples} samples) {f:F2}") : "";
                log(string.Create(CultureInfo.InvariantCulture,
                    $"  point {k + 1}/{all.Count} done in {ProgressFormat(p.Seconds)}: {p.GptFlops:G3} FLOPs, CE {p.CePerToken:F4} nats/token, {p.BitsPerImage:F1} bits/image{fid}; ETA {SweepEta.Format(left)}"));
                o.AfterPoint?.Invoke(p);
            }
        }

        log($"all {all.Count} points recorded ({measured} measured now, {ProgressFormat(clock.Elapsed.TotalSeconds)}); fitting");
        return Report(plan, ctx.Dir, o.Command, measured, log);
    }

    /// <summary>Fits and reports from points.jsonl alone (crt sweep --fit-only): no training, no measuring.</summary>
    public static SweepOutcome Report(SweepPlan plan, string dir, string command, int measured, Action<string> log)
    {
        var (tokenizers, points) = new PointLog(Path.Combine(dir, "points.jsonl")).Read();
        var inPlan = points.Where(p => IsPlanned(plan, p)).ToList();
        if (inPlan.Count < points.Count) log($"{points.Count - inPlan.Count} recorded points are not in the plan and are left out of the fits");
        var analysis = SweepAnalysis.Run(plan, tokenizers.Where(t => plan.Tokenizers.Any(x => x.Name == t.Name)).ToList(), inPlan);
        var (report, results) = SweepReport.Write(plan, dir, analysis, command);
        log($"{inPlan.Count} of {plan.PointCount} points; report {report}; results {results}");
        return new SweepOutcome(dir, measured, inPlan.Count, plan.PointCount, report, results);
    }

    private static bool IsPlanned(SweepPlan plan, PointRecord p) =>
        plan.Tokenizers.Any(t => t.Name == p.Tokenizer) && plan.Gpt.Presets.Contains(p.Gpt) && plan.Gpt.Steps.Contains(p.Steps);

    private static string ProgressFormat(double seconds) => Training.ProgressReporter.FormatDuration(seconds);
}
