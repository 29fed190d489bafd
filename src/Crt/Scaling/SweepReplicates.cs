using System.Globalization;
using System.Text;
using Crt.Data;

namespace Crt.Scaling;

/// <summary>
/// A plan with several replicates ("seeds"): the whole sweep once per replicate, each in its own folder
/// (DIR/seed-tT-gG/, a complete sweep folder with its own report), then replicates.md across them: every
/// measurement as mean ± 95% interval over the replicates, and the baseline − CRT differences paired by
/// replicate. A tokenizer an earlier replicate trained with the same seed is reused, not trained again.
/// </summary>
public static class SweepReplicates
{
    public static SweepOutcome Run(SweepPlan plan, SweepOptions o, CancellationToken cancel, Action<string> log)
    {
        if (plan.Replicates.Count <= 1) return SweepRunner.Run(plan, o, cancel, log);
        Directory.CreateDirectory(o.Out);
        AtomicFile.WriteAllText(Path.Combine(o.Out, "plan.json"), plan.ToJson() + "\n");
        int measured = 0, recorded = 0;
        for (int i = 0; i < plan.Replicates.Count; i++)
        {
            var r = plan.Replicates[i];
            string dir = Path.Combine(o.Out, r.FolderName);
            log($"[replicate {i + 1}/{plan.Replicates.Count}] {r} → {dir}");
            var outcome = SweepRunner.Run(ReplicatePlan(plan, i, o.Out), o with { Out = dir }, cancel, log);
            measured += outcome.Measured;
            recorded += outcome.Recorded;
        }
        string summary = WriteSummary(plan, o.Out);
        log($"replicates: {summary}");
        return new SweepOutcome(o.Out, measured, recorded, plan.PointCount * plan.Replicates.Count, summary, summary);
    }

    /// <summary>Refits every replicate from its recorded points and rewrites the summary (crt sweep --fit-only).</summary>
    public static SweepOutcome Report(SweepPlan plan, string dir, string command, Action<string> log)
    {
        if (plan.Replicates.Count <= 1) return SweepRunner.Report(plan, dir, command, 0, log);
        int recorded = 0;
        for (int i = 0; i < plan.Replicates.Count; i++)
        {
            string sub = Path.Combine(dir, plan.Replicates[i].FolderName);
            if (File.Exists(Path.Combine(sub, "points.jsonl")))
                recorded += SweepRunner.Report(ReplicatePlan(plan, i, dir), sub, command, 0, log).Recorded;
        }
        string summary = WriteSummary(plan, dir);
        log($"replicates: {summary}");
        return new SweepOutcome(dir, 0, recorded, plan.PointCount * plan.Replicates.Count, summary, summary);
    }

    /// <summary>Replicate <paramref name="i"/>'s plan, reusing tokenizers that an earlier replicate trained with the same seed.</summary>
    private static SweepPlan ReplicatePlan(SweepPlan plan, int i, string dir)
    {
        var r = plan.Replicates[i];
        var earlier = plan.Replicates.Take(i).FirstOrDefault(e => e.TokenizerSeed == r.TokenizerSeed);
        return plan.ForReplicate(r, name => earlier is null ? null : SweepContext.TokenizerDirIn(Path.Combine(dir, earlier.FolderName), name));
    }

    /// <summary>Which feature network(s) the records' FIDs were measured under, by the weights' SHA-256; a warning when more than one.</summary>
    internal static string FeatureNets(IEnumerable<string?> shas)
    {
        var counts = shas.GroupBy(h => h).Select(g => (Net: g.Key is null ? "not recorded" : $"`{g.Key[..Math.Min(12, g.Key.Length)]}`", Count: g.Count())).ToList();
        if (counts.Count == 0) return "No record measures FID yet.";
        if (counts.Count == 1)
            return counts[0].Net == "not recorded" ? "These records were made before records named their feature network (its weights' SHA-256)."
                : $"Every FID and rFID here is under one feature network (weights SHA-256 {counts[0].Net}…).";
        return $"**These records were measured under {counts.Count} feature networks** ({string.Join(", ", counts.Select(c => $"{c.Net}: {c.Count} records"))}): " +
            "FIDs under different networks are not like for like. `crt sweep` measures again what another network measured.";
    }

    /// <summary>Writes DIR/replicates.md from each replicate's points.jsonl; returns its path.</summary>
    public static string WriteSummary(SweepPlan plan, string dir)
    {
        ReplicateRuns runs = plan.Replicates
            .Select(r => (Replicate: r, Log: Path.Combine(dir, r.FolderName, "points.jsonl")))
            .Where(x => File.Exists(x.Log))
            .Select(x => (x.Replicate, Records: new PointLog(x.Log).Read()))
            .ToList();
        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        md.AppendLine("# The sweep's replicates: means and 95% intervals over seeds");
        md.AppendLine();
        if (plan.Description.Length > 0) md.AppendLine(plan.Description).AppendLine();
        md.AppendLine($"{runs.Count} of {plan.Replicates.Count} replicates have recorded points: {string.Join("; ", runs.Select(x => x.Replicate.ToString()))}. " +
            "Each cell is the mean over the replicates ± the half-width of its 95% Student-t interval (one replicate: the mean alone). " +
            "Each replicate is a complete sweep in its own folder, with its own fits and report.");
        md.AppendLine();
        md.AppendLine(FeatureNets(runs.SelectMany(x => x.Records.Tokenizers.Select(t => t.FeatureNetSha256)
            .Concat(x.Records.Points.Where(p => p.FeatureNet is not null).Select(p => p.FeatureNetSha256))))).AppendLine();

        md.AppendLine("## Tokenizers").AppendLine();
        md.AppendLine("| tokenizer | replicates | PSNR (dB) | rFID | codebook usage | CRT loss (the baseline's: its λ = 0 probe) |");
        md.AppendLine("|---|---|---|---|---|---|");
        foreach (var t in plan.Tokenizers)
        {
            var recs = runs.SelectMany(x => x.Records.Tokenizers.Where(r => r.Name == t.Name)).ToList();
            if (recs.Count == 0) continue;
            md.AppendLine($"| {t.Name} | {recs.Count} | {MeanInterval.Of(recs.Select(r => r.Psnr)).Format("F2")} | {MeanInterval.Of(recs.Select(r => r.Rfid)).Format("F1")} " +
                $"| {MeanInterval.Of(recs.Select(r => r.CodebookUsage)).Format("P1")} | {MeanInterval.Of(recs.Where(r => r.CrtLoss is not null).Select(r => r.CrtLoss!.Value)).Format("G3")} |");
        }
        md.AppendLine();

        md.AppendLine("## Points").AppendLine();
        md.AppendLine($"| tokenizer | GPT | steps | replicates | GPT FLOPs | CE per token (nats) | bits per image | FID ({plan.Eval.Samples} samples) | FID's SD over replicates |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var (t, preset, steps) in plan.Points())
        {
            var ps = PointsAt(runs, t.Name, preset, steps).Select(x => x.Point).ToList();
            if (ps.Count == 0) continue;
            var fid = MeanInterval.Of(ps.Where(p => p.Fid is not null).Select(p => p.Fid!.Value));
            md.AppendLine($"| {t.Name} | {preset} | {steps} | {ps.Count} | {ps.Average(p => p.GptFlops).ToString("G3", inv)} | {MeanInterval.Of(ps.Select(p => p.CePerToken)).Format("F4")} " +
                $"| {MeanInterval.Of(ps.Select(p => p.BitsPerImage)).Format("F1")} | {fid.Format("F2")} | {(fid.N > 1 ? fid.Sd.ToString("F2", inv) : "–")} |");
        }
        md.AppendLine();

        if (plan.Eval.FidOfFirst.Length > 0)
        {
            md.AppendLine("## FID by sample count").AppendLine();
            md.AppendLine($"The FID of the first n of each point's {plan.Eval.Samples} samples, and its difference from the FID of all of them " +
                "(within each replicate, then mean ± interval): how far a smaller sample count shifts FID, and how much it spreads.").AppendLine();
            md.AppendLine("| tokenizer | GPT | steps | n | FID | FID's SD over replicates | FID(n) − FID(all) |");
            md.AppendLine("|---|---|---|---|---|---|---|");
            foreach (var (t, preset, steps) in plan.Points())
            {
                var ps = PointsAt(runs, t.Name, preset, steps).Select(x => x.Point).Where(p => p.Fid is not null).ToList();
                foreach (int n in plan.Eval.FidOfFirst)
                {
                    var at = ps.Where(p => p.FidOfFirst.ContainsKey(n)).ToList();
                    if (at.Count == 0) continue;
                    var fid = MeanInterval.Of(at.Select(p => p.FidOfFirst[n]));
                    md.AppendLine($"| {t.Name} | {preset} | {steps} | {n} | {fid.Format("F2")} | {(fid.N > 1 ? fid.Sd.ToString("F2", inv) : "–")} " +
                        $"| {MeanInterval.Of(at.Select(p => p.FidOfFirst[n] - p.Fid!.Value)).Format("F2")} |");
                }
            }
            md.AppendLine();
        }

        if (plan.Crt is { } crt) WritePaired(md, plan, runs, plan.Baseline, crt);
        SweepAblation.WriteArms(md, plan, runs);
        var selected = WriteSelection(md, plan, runs);
        if (selected is not null && selected != plan.Crt)
            WritePaired(md, plan, runs, plan.Baseline, selected, "the selected configuration, as the declared verdict reads it");
        SweepAblation.WriteClaim5(md, plan, runs);
        SweepClaim4.Write(md, plan, runs);
        string path = Path.Combine(dir, "replicates.md");
        AtomicFile.WriteAllText(path, md.ToString());
        return path;
    }

    /// <summary>
    /// Baseline minus CRT at each (GPT, steps), paired within a replicate (same seeds, same GPT compute), and the verdict
    /// of the rule declared in docs/results.md at the largest GPT compute both reached.
    /// </summary>
    private static void WritePaired(StringBuilder md, SweepPlan plan, ReplicateRuns runs,
        string baseline, string crt, string? why = null)
    {
        md.AppendLine($"## {baseline} − {crt}, paired by replicate{(why is null ? "" : $" ({why})")}").AppendLine();
        md.AppendLine("Positive: CRT is lower (better) than the baseline. Both have the same GPT compute at a (GPT, steps) point; " +
            "the tokenizers' compute is whatever the plan gave them (match_baseline_steps makes it equal).").AppendLine();
        md.AppendLine("| GPT | steps | pairs | GPT FLOPs | Δ CE per token | Δ FID |");
        md.AppendLine("|---|---|---|---|---|---|");
        (string Preset, long Steps, double Flops, MeanInterval Fid)? last = null;
        foreach (var preset in plan.Gpt.Presets)
            foreach (var steps in plan.Gpt.Steps)
            {
                var pairs = PointsAt(runs, baseline, preset, steps)
                    .Join(PointsAt(runs, crt, preset, steps), b => b.Replicate, c => c.Replicate, (b, c) => (B: b.Point, C: c.Point)).ToList();
                if (pairs.Count == 0) continue;
                var ce = MeanInterval.Of(pairs.Select(p => p.B.CePerToken - p.C.CePerToken));
                var fid = MeanInterval.Of(pairs.Where(p => p.B.Fid is not null && p.C.Fid is not null).Select(p => p.B.Fid!.Value - p.C.Fid!.Value));
                double flops = pairs.Average(p => p.B.GptFlops);
                md.AppendLine($"| {preset} | {steps} | {pairs.Count} | {flops.ToString("G3", CultureInfo.InvariantCulture)} | {ce.Format("F4")} | {fid.Format("F2")} |");
                if (fid.N > 0 && (last is null || flops > last.Value.Flops)) last = (preset, steps, flops, fid);
            }
        md.AppendLine();
        if (last is not { } top) return;
        string verdict = top.Fid.N < 2 ? "undecided: one replicate gives no interval"
            : top.Fid.Low > 0 ? "CRT's FID is lower: claim 3 reproduces at this compute"
            : top.Fid.High < 0 ? "the baseline's FID is lower: claim 3 does not reproduce at this compute"
            : "undecided: the interval includes 0";
        md.AppendLine($"**Claim 3 at the largest GPT compute both reached** ({top.Preset}, {top.Steps} steps, {top.Flops.ToString("G3", CultureInfo.InvariantCulture)} FLOPs): " +
            $"baseline FID − CRT FID = {top.Fid.Format("F2")} over {top.Fid.N} replicate{(top.Fid.N == 1 ? "" : "s")} (95% interval " +
            (top.Fid.N < 2 ? "none" : $"[{top.Fid.Low.ToString("F2", CultureInfo.InvariantCulture)}, {top.Fid.High.ToString("F2", CultureInfo.InvariantCulture)}]") + $"): {verdict}.");
        SweepComputeRatio.Write(md, runs, baseline, crt);
        md.AppendLine();
    }

    /// <summary>
    /// The selection rule declared in docs/results.md, applied to every tokenizer but the baseline (the arms): at the
    /// largest GPT compute that every arm reached, the arm with the lowest mean FID wins; arms whose mean FID lies
    /// inside the winner's 95% interval are tied with it, and among tied arms the plan's "crt" (the default
    /// configuration) is kept if it is one of them, else the one with the lowest total compute. As declared, nothing
    /// is selected until every arm has every replicate there: before that the rule's current answer is shown as a
    /// provisional leader and null is returned.
    /// </summary>
    /// <returns>The selected arm, or null while the selection is not final.</returns>
    private static string? WriteSelection(StringBuilder md, SweepPlan plan, ReplicateRuns runs)
    {
        var arms = plan.Tokenizers.Select(t => t.Name).Where(n => n != plan.Baseline).ToList();
        if (arms.Count < 2) return null;
        var inv = CultureInfo.InvariantCulture;
        var reachedByAll = plan.Gpt.Presets.SelectMany(p => plan.Gpt.Steps.Select(st => (Preset: p, Steps: st)))
            .Where(x => arms.All(a => PointsAt(runs, a, x.Preset, x.Steps).Any(q => q.Point.Fid is not null)))
            .Select(x => (x.Preset, x.Steps, Flops: arms.SelectMany(a => PointsAt(runs, a, x.Preset, x.Steps)).Average(q => q.Point.GptFlops)))
            .ToList();
        md.AppendLine("## Selection among the arms (the rule declared in docs/results.md)").AppendLine();
        if (reachedByAll.Count == 0) { md.AppendLine("No (GPT, steps) point has an FID for every arm yet.").AppendLine(); return null; }
        var top = reachedByAll.MaxBy(x => x.Flops);
        var rows = arms.Select(a =>
        {
            var ps = PointsAt(runs, a, top.Preset, top.Steps).Select(q => q.Point).Where(p => p.Fid is not null).ToList();
            return (Arm: a, Fid: MeanInterval.Of(ps.Select(p => p.Fid!.Value)), Cost: ps.Average(p => p.TokenizerFlops + p.GptFlops));
        }).OrderBy(r => r.Fid.Mean).ToList();
        var winner = rows[0];
        bool Tied(MeanInterval f) => winner.Fid.N > 1 ? f.Mean >= winner.Fid.Low && f.Mean <= winner.Fid.High : f.Mean == winner.Fid.Mean;
        var tied = rows.Where(r => Tied(r.Fid)).ToList();
        var selected = tied.Any(r => r.Arm == plan.Crt) ? tied.First(r => r.Arm == plan.Crt) : tied.MinBy(r => r.Cost);
        md.AppendLine($"At {top.Preset}, {top.Steps} steps ({top.Flops.ToString("G3", inv)} GPT FLOPs), the largest GPT compute every arm reached:").AppendLine();
        md.AppendLine("| arm | FID | tied with the lowest | tokenizer + GPT FLOPs |");
        md.AppendLine("|---|---|---|---|");
        foreach (var r in rows)
            md.AppendLine($"| {r.Arm}{(r.Arm == plan.Crt ? " (default)" : "")} | {r.Fid.Format("F2")} | {(Tied(r.Fid) ? "yes" : "no")} | {r.Cost.ToString("G3", inv)} |");
        md.AppendLine();
        int measured = rows.Sum(r => r.Fid.N), wanted = arms.Count * plan.Replicates.Count;
        bool final = measured == wanted;
        md.AppendLine($"**{(final ? "Selected" : "Provisional leader")}: {selected.Arm}**" + (tied.Count > 1 ? $" ({tied.Count} arms tied; " +
            (selected.Arm == plan.Crt ? "the default is among them and stays)" : $"the cheapest of them{CostMargin(tied.Select(r => r.Cost).ToList(), selected.Cost)})") : "") +
            (winner.Fid.N < 2 ? ". With one replicate there is no interval: ties are exact only." : ".") +
            (final ? "" : $" Not a selection: {measured} of the {wanted} arm-replicates have an FID at this point, and the declared rule " +
                $"selects only when every arm has all {plan.Replicates.Count}."));
        md.AppendLine();
        return final ? selected.Arm : null;
    }

    /// <summary>
    /// How much cheaper the selected arm is than the next cheapest tied arm. Arms given the baseline's tokenizer FLOPs differ
    /// in cost only by rounding their step counts, so a margin under 1% is said to be that: the rule's letter decided, not
    /// a real difference in compute.
    /// </summary>
    private static string CostMargin(List<double> tiedCosts, double selectedCost)
    {
        double next = tiedCosts.Where(c => c != selectedCost).DefaultIfEmpty(selectedCost).Min();
        double margin = next / selectedCost - 1;
        if (margin <= 0) return ", at equal cost";
        string pct = (100 * margin).ToString(margin < 0.01 ? "G2" : "F1", CultureInfo.InvariantCulture);
        return margin < 0.01
            ? $", by {pct}% of the total compute: the arms' costs differ only by the rounding of their step counts, so the cost tie-break decided by less than a real difference in compute"
            : $", by {pct}% of the total compute";
    }

    /// <summary>
    /// The FID frontier of some points (the lower envelope over GPT sizes and lengths against GPT FLOPs), each (GPT, steps)
    /// the mean over the points given for it: pass one replicate's points for its own frontier, or all for the mean's.
    /// </summary>
    internal static IReadOnlyList<CurvePoint> FidFrontier(IEnumerable<PointRecord> points) =>
        Frontier.LowerEnvelope(points.Where(p => p.Fid is not null).GroupBy(p => (p.Gpt, p.Steps))
            .Select(g => new CurvePoint(g.Average(p => p.GptFlops), g.Average(p => p.Fid!.Value), $"{g.Key.Gpt} @ {g.Key.Steps}")));

    internal static IEnumerable<(SweepReplicate Replicate, PointRecord Point)> PointsAt(
        ReplicateRuns runs,
        string tokenizer, string preset, long steps) =>
        runs.SelectMany(x => x.Records.Points.Where(p => p.Tokenizer == tokenizer && p.Gpt == preset && p.Steps == steps).Select(p => (x.Replicate, p)));
}
