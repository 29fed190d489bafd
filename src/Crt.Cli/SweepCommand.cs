using Crt.Scaling;

namespace Crt.Cli;

/// <summary>crt sweep: the scaling study of a plan file.</summary>
public static class SweepCommand
{
    private const string Help = """
        usage: crt sweep PLAN.json [--out DIR] [--only NAME,...] [--dry-run] [--fit-only] [--quiet]
               crt sweep --fit-only --out DIR        (refit a sweep from its recorded plan.json and points.jsonl)

        Runs the scaling study a plan describes (see configs/sweep-fashion-mnist.json and the README):
        its tokenizers, then every (GPT size, tokenizer, steps) point — the step counts are checkpoints of
        one run per tokenizer and size — recording each in DIR/points.jsonl (default runs/sweep-NAME for
        a plan sweep-NAME.json).
        It then fits L(C) = L_min + exp(λ)·C^α to each tokenizer's compute-optimal frontier (validation loss
        and FID against GPT training FLOPs), bootstraps α, computes the compute-efficiency ratio against the
        baseline, and writes DIR/report.html and DIR/results.md. What is recorded is skipped and runs resume
        from their checkpoints, so an interrupted sweep continues when the same command is run again.
        A plan with "seeds" runs the study once per replicate (DIR/seed-tT-gG/, each a complete sweep folder)
        and writes DIR/replicates.md: every measurement as mean ± 95% interval over the replicates.

          --out DIR      the sweep folder
          --only NAMES   train and measure only these tokenizers (comma-separated names from the plan) and their
                         points now, in every replicate; the reports still cover every recorded point. A study too
                         large for one sitting runs this way in parts.
          --dry-run      list the points with their FLOPs and estimate the wall time (times a few steps of each configuration)
          --fit-only     no training: fits and reports from DIR/points.jsonl
          --quiet        no progress lines from the trainers
          --device D     where the models train and are measured: cpu (default), cuda, cuda:N or ilgpu-cpu (the
                         --dry-run estimate times the CPU)
        """;

    public static int Run(string[] args, CancellationToken cancel)
    {
        if (args.Contains("--help")) { Console.WriteLine(Help); return 0; }
        var cl = CommandLine.Parse(args, new[] { "out", "device", "only" }, new[] { "dry-run", "fit-only", "quiet" }, "sweep");
        var device = cl.Device();
        if (cl.Positional.Count > 1) throw new UsageException($"sweep: expected one plan file, got {string.Join(" ", cl.Positional)}");
        string? planPath = cl.Positional.Count == 1 ? cl.Positional[0] : null;
        string? outDir = cl.Value("out");
        if (planPath is null)
        {
            if (!cl.Flag("fit-only") || outDir is null) throw new UsageException("sweep needs a plan file (or --fit-only --out DIR to refit a recorded sweep)");
            planPath = Path.Combine(outDir, "plan.json");
            if (!File.Exists(planPath)) throw new ArgumentException($"{planPath}: no recorded plan in the sweep folder {outDir}");
        }
        var plan = SweepPlan.Load(planPath);
        // configs/sweep-fashion-mnist.json → runs/sweep-fashion-mnist
        string name = Path.GetFileNameWithoutExtension(planPath);
        outDir ??= Path.Combine("runs", name.StartsWith("sweep-", StringComparison.Ordinal) ? name : "sweep-" + name);
        string command = "crt sweep " + string.Join(" ", args);

        var only = Only(plan, cl.Value("only"));
        if (cl.Flag("dry-run"))
        {
            SweepEstimate.Run(only is null ? plan : plan with { Tokenizers = plan.Tokenizers.Where(t => only.Contains(t.Name)).ToList() }, Console.WriteLine);
            return 0;
        }
        if (cl.Flag("fit-only"))
        {
            string recorded = plan.Replicates.Count > 1 ? Path.Combine(outDir, plan.Replicates[0].FolderName, "points.jsonl") : Path.Combine(outDir, "points.jsonl");
            if (!File.Exists(recorded)) throw new ArgumentException($"{recorded}: no recorded points to fit (run the sweep first)");
            SweepReplicates.Report(plan, outDir, command, Console.WriteLine);
            return 0;
        }
        try
        {
            var outcome = SweepReplicates.Run(plan, new SweepOptions(outDir, cl.Flag("quiet"), command, Device: device, Only: only), cancel, Console.WriteLine);
            Console.WriteLine($"sweep done: {outcome.Recorded} of {outcome.Planned} points recorded ({outcome.Measured} now); {Path.GetFullPath(outcome.Results)}");
            return 0;
        }
        catch (OperationCanceledException e)
        {
            Console.Error.WriteLine($"crt: {e.Message}");
            return 130;
        }
    }

    /// <summary>The tokenizers --only names, each checked against the plan; null when it is not given.</summary>
    private static IReadOnlySet<string>? Only(SweepPlan plan, string? value)
    {
        if (value is null) return null;
        var names = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        if (names.Count == 0) throw new UsageException("sweep: --only needs tokenizer names, comma-separated");
        foreach (var n in names) plan.Tokenizer(n);
        return names;
    }
}
