using System.Globalization;
using System.Text;

namespace Crt.Scaling;

/// <summary>
/// Claim 3's compute ratio across replicates: how many times CRT's GPT compute the baseline's GPT needs to reach the same
/// FID, read off each replicate's own empirical FID frontiers (as each replicate's report does), then the geometric mean
/// over the replicates with the 95% Student-t interval of the mean log ratio. The targets are spread over the FIDs both
/// mean frontiers cover; a replicate whose frontiers do not both reach a target gives no ratio there.
/// </summary>
internal static class SweepComputeRatio
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    public const int Targets = 5;

    /// <summary>Per target FID: the per-replicate ratios' geometric mean and interval (in ratio units), from their logs.</summary>
    internal static List<(double Target, MeanInterval LogRatio)> Ratios(ReplicateRuns runs, string baseline, string crt)
    {
        var all = runs.SelectMany(x => x.Records.Points).ToList();
        var targets = ComputeEfficiency.Targets(SweepReplicates.FidFrontier(all.Where(p => p.Tokenizer == baseline)), SweepReplicates.FidFrontier(all.Where(p => p.Tokenizer == crt)), Targets);
        var perReplicate = runs.Select(x => (B: SweepReplicates.FidFrontier(x.Records.Points.Where(p => p.Tokenizer == baseline)), C: SweepReplicates.FidFrontier(x.Records.Points.Where(p => p.Tokenizer == crt))))
            .Where(f => f.B.Count > 0 && f.C.Count > 0).ToList();
        return targets.Select(t => (t, MeanInterval.Of(perReplicate
            .Select(f => ComputeEfficiency.EmpiricalRatio(f.B, f.C, t)).Where(r => r is > 0).Select(r => Math.Log(r!.Value))))).ToList();
    }

    public static void Write(StringBuilder md, ReplicateRuns runs, string baseline, string crt)
    {
        var rows = Ratios(runs, baseline, crt);
        if (rows.Count == 0) return;
        md.AppendLine().AppendLine($"**Compute ratio** ({baseline}'s GPT FLOPs ÷ {crt}'s to reach the same FID, on each replicate's own empirical frontier; " +
            "geometric mean over the replicates that reach the target, 95% interval of the mean log ratio; above 1: CRT needs less compute):").AppendLine();
        md.AppendLine("| FID target | replicates | ratio | 95% interval |");
        md.AppendLine("|---|---|---|---|");
        foreach (var (t, lr) in rows)
            md.AppendLine($"| {t.ToString("F1", Inv)} | {lr.N} | {(lr.N == 0 ? "–" : Math.Exp(lr.Mean).ToString("F2", Inv))} | " +
                $"{(lr.N < 2 ? "–" : $"[{Math.Exp(lr.Low).ToString("F2", Inv)}, {Math.Exp(lr.High).ToString("F2", Inv)}]")} |");
    }
}
