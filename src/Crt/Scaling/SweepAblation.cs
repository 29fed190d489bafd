using System.Globalization;
using System.Text;
using Crt.Training;

namespace Crt.Scaling;

/// <summary>
/// The ablation parts of replicates.md: every arm against the default configuration (the plan's "crt"), paired by
/// replicate, and claim 5 (λ has an optimum) decided by the rule declared in docs/results.md over the λ arms: the
/// tokenizers whose configuration differs from the default's in crt.lambda_max alone.
/// </summary>
internal static class SweepAblation
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>For each GPT size at its longest measured run: each arm's tokenizer and FID, and arm − default paired within replicates.</summary>
    public static void WriteArms(StringBuilder md, SweepPlan plan, ReplicateRuns runs)
    {
        if (plan.Crt is not { } def || plan.Tokenizers.Count < 3) return;
        md.AppendLine($"## Every arm against the default ({def}), paired by replicate").AppendLine();
        md.AppendLine("Δ = arm − default within each replicate (same seeds, same GPT compute), then mean ± 95% interval; " +
            "negative Δ FID: the arm's samples are better. Tokenizer columns are the arm's own (mean ± interval).").AppendLine();
        foreach (var preset in plan.Gpt.Presets)
        {
            var steps = plan.Gpt.Steps.Where(s => plan.Tokenizers.Any(t => SweepReplicates.PointsAt(runs, t.Name, preset, s).Any())).DefaultIfEmpty(-1).Max();
            if (steps < 0) continue;
            md.AppendLine($"**{preset}, {steps} steps**").AppendLine();
            md.AppendLine("| arm | replicates | PSNR (dB) | codebook usage | CE per token | FID | Δ FID vs default | Δ CE vs default |");
            md.AppendLine("|---|---|---|---|---|---|---|---|");
            var defaults = SweepReplicates.PointsAt(runs, def, preset, steps).ToDictionary(x => x.Replicate, x => x.Point);
            foreach (var t in plan.Tokenizers)
            {
                var ps = SweepReplicates.PointsAt(runs, t.Name, preset, steps).ToList();
                if (ps.Count == 0) continue;
                var toks = runs.SelectMany(x => x.Records.Tokenizers.Where(r => r.Name == t.Name)).ToList();
                var paired = ps.Where(x => defaults.ContainsKey(x.Replicate)).Select(x => (Arm: x.Point, Def: defaults[x.Replicate])).ToList();
                string dFid = t.Name == def ? "" : MeanInterval.Of(paired.Where(p => p.Arm.Fid is not null && p.Def.Fid is not null).Select(p => p.Arm.Fid!.Value - p.Def.Fid!.Value)).Format("F2");
                string dCe = t.Name == def ? "" : MeanInterval.Of(paired.Select(p => p.Arm.CePerToken - p.Def.CePerToken)).Format("F4");
                md.AppendLine($"| {t.Name}{(t.Name == def ? " (default)" : "")} | {ps.Count} | {MeanInterval.Of(toks.Select(r => r.Psnr)).Format("F2")} " +
                    $"| {MeanInterval.Of(toks.Select(r => r.CodebookUsage)).Format("P1")} | {MeanInterval.Of(ps.Select(x => x.Point.CePerToken)).Format("F4")} " +
                    $"| {MeanInterval.Of(ps.Where(x => x.Point.Fid is not null).Select(x => x.Point.Fid!.Value)).Format("F2")} | {dFid} | {dCe} |");
            }
            md.AppendLine();
        }
    }

    /// <summary>
    /// Claim 5 by the declared rule: at the largest GPT compute every λ arm reached, it reproduces when the λ_max with
    /// the lowest mean FID is strictly inside the swept range (neither the smallest nor the largest λ_max) and its FID is
    /// lower than both ends' with 95% intervals of the paired differences excluding 0; otherwise it is not seen.
    /// </summary>
    public static void WriteClaim5(StringBuilder md, SweepPlan plan, ReplicateRuns runs)
    {
        if (plan.Crt is not { } def || plan.Tokenizers.FirstOrDefault(t => t.Name == def)?.Config is not { } defConfig) return;
        var arms = plan.Tokenizers.Where(t => t.Name != plan.Baseline && t.Config is not null && SameButLambda(t.Config, defConfig))
            .Select(t => (t.Name, Lambda: (double)t.Config!.Crt.LambdaMax)).OrderBy(a => a.Lambda).ToList();
        if (arms.Count < 3) return;
        md.AppendLine("## Claim 5: does λ have an optimum? (the rule declared in docs/results.md)").AppendLine();
        md.AppendLine($"The λ arms: {string.Join(", ", arms.Select(a => $"{a.Name} (λ_max {a.Lambda.ToString("G", Inv)})"))}, which differ from {def} in crt.lambda_max alone.").AppendLine();
        var top = plan.Gpt.Presets.SelectMany(p => plan.Gpt.Steps.Select(s => (Preset: p, Steps: s)))
            .Where(x => arms.All(a => SweepReplicates.PointsAt(runs, a.Name, x.Preset, x.Steps).Any(q => q.Point.Fid is not null)))
            .Select(x => (x.Preset, x.Steps, Flops: arms.SelectMany(a => SweepReplicates.PointsAt(runs, a.Name, x.Preset, x.Steps)).Average(q => q.Point.GptFlops)))
            .DefaultIfEmpty().MaxBy(x => x.Flops);
        if (top.Preset is null) { md.AppendLine("No (GPT, steps) point has an FID for every λ arm yet: not decided.").AppendLine(); return; }

        Dictionary<SweepReplicate, double> Fids(string arm) => SweepReplicates.PointsAt(runs, arm, top.Preset, top.Steps)
            .Where(q => q.Point.Fid is not null).ToDictionary(q => q.Replicate, q => q.Point.Fid!.Value);
        var rows = arms.Select(a => (a.Name, a.Lambda, Fid: Fids(a.Name))).ToList();
        var best = rows.MinBy(r => r.Fid.Values.Average());
        MeanInterval Diff(string other)
        {
            var o = Fids(other);
            return MeanInterval.Of(best.Fid.Where(kv => o.ContainsKey(kv.Key)).Select(kv => kv.Value - o[kv.Key]));
        }
        md.AppendLine($"At {top.Preset}, {top.Steps} steps ({top.Flops.ToString("G3", Inv)} GPT FLOPs), the largest GPT compute every λ arm reached:").AppendLine();
        md.AppendLine("| λ_max | arm | FID | best − this arm, paired |");
        md.AppendLine("|---|---|---|---|");
        foreach (var r in rows)
            md.AppendLine($"| {r.Lambda.ToString("G", Inv)} | {r.Name} | {MeanInterval.Of(r.Fid.Values).Format("F2")} | {(r.Name == best.Name ? "(best)" : Diff(r.Name).Format("F2"))} |");
        md.AppendLine();
        bool interior = best.Lambda > rows[0].Lambda && best.Lambda < rows[^1].Lambda;
        static bool Below0(MeanInterval d) => d.N > 1 && d.High < 0;
        var open = new[] { (End: rows[0], D: Diff(rows[0].Name)), (End: rows[^1], D: Diff(rows[^1].Name)) }
            .Where(x => !Below0(x.D)).Select(x => $"λ_max {x.End.Lambda.ToString("G", Inv)} ({x.D.Format("F2")})").ToList();
        string verdict = !interior ? $"not seen: the lowest mean FID is at λ_max {best.Lambda.ToString("G", Inv)}, an end of the swept range"
            : open.Count == 0 ? $"reproduces: λ_max {best.Lambda.ToString("G", Inv)} is better than both ends, with intervals of the differences below 0"
            : best.Fid.Count < 2 ? $"not seen: λ_max {best.Lambda.ToString("G", Inv)} has the lowest FID, but one replicate gives no interval"
            : $"not seen: λ_max {best.Lambda.ToString("G", Inv)} has the lowest mean FID, but the interval of its difference from {string.Join(" and ", open)} reaches 0";
        md.AppendLine($"**Claim 5: {verdict}.**").AppendLine();
        WriteCodebookHealth(md, plan, runs, arms);
    }

    /// <summary>
    /// Codebook usage against λ_max in each replicate (the baseline as λ_max 0): "λ collapses the codebook" is stated only
    /// when usage falls as λ_max rises in every replicate, as declared in docs/results.md.
    /// </summary>
    private static void WriteCodebookHealth(StringBuilder md, SweepPlan plan, ReplicateRuns runs, List<(string Name, double Lambda)> arms)
    {
        var ladder = new List<(string Name, double Lambda)> { (plan.Baseline, 0) };
        ladder.AddRange(arms);
        var complete = runs.Where(x => ladder.All(a => x.Records.Tokenizers.Any(t => t.Name == a.Name))).ToList();
        if (complete.Count == 0) return;
        md.AppendLine("Codebook usage (codes used on the test images ÷ K) by λ_max, per replicate:").AppendLine();
        md.AppendLine("| replicate | " + string.Join(" | ", ladder.Select(a => $"λ_max {a.Lambda.ToString("G", Inv)}")) + " |");
        md.AppendLine("|---|" + string.Concat(ladder.Select(_ => "---|")));
        bool fallsEverywhere = true;
        foreach (var x in complete)
        {
            var usage = ladder.Select(a => x.Records.Tokenizers.Last(t => t.Name == a.Name).CodebookUsage).ToList();
            fallsEverywhere &= usage.Zip(usage.Skip(1), (u, v) => v < u).All(f => f);
            md.AppendLine($"| {x.Replicate} | " + string.Join(" | ", usage.Select(u => u.ToString("P1", Inv))) + " |");
        }
        md.AppendLine();
        md.AppendLine(fallsEverywhere
            ? complete.Count < plan.Replicates.Count
                ? $"Usage falls as λ_max rises in the {complete.Count} of {plan.Replicates.Count} replicates that have every λ arm so far; the rule states it only with all of them."
                : $"**Usage falls as λ_max rises in all {complete.Count} replicates: λ collapses the codebook.**"
            : $"Usage does not fall with λ_max in every one of the {complete.Count} replicates, so the collapse is not stated as λ's effect.");
        md.AppendLine();
    }

    private static bool SameButLambda(TokenizerTrainConfig a, TokenizerTrainConfig b) =>
        ConfigResolver.ToJson(a with { Crt = a.Crt with { LambdaMax = 0 } }) == ConfigResolver.ToJson(b with { Crt = b.Crt with { LambdaMax = 0 } });
}
