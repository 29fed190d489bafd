using Crt.Reporting;

namespace Crt.Cli;

/// <summary>crt report RUN… — rebuilds a run's report.html, or compares runs side by side.</summary>
public static class ReportCommand
{
    private const string Help = """
        usage: crt report RUN [RUN…] [--out FILE]

        Rebuilds report.html from run directories' own files (config.json, metrics.jsonl, eval JSON files,
        PNG grids): metric tables, loss and validation curves, per-position CE, reconstruction and sample
        grids, and the configs. Self-contained (inline SVG and images), readable offline.

          RUN          a tokenizer or GPT run directory, or a folder of them (e.g. runs/demo): tokenizer and
                       GPT runs get their own sections, one column and one curve per run
          --out FILE   where to write (default: RUN/report.html for one run, report-compare.html for several)
        """;

    public static int Run(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(Help); return 0; }
        var cl = CommandLine.Parse(args, new[] { "out" }, Array.Empty<string>(), "report");
        if (cl.Positional.Count == 0) throw new UsageException("report needs at least one run directory");
        var dirs = new List<string>();
        foreach (var arg in cl.Positional)
        {
            if (!Directory.Exists(arg)) throw new UsageException($"report: {arg} is not a directory");
            if (RunSummary.IsRun(arg)) { dirs.Add(arg); continue; }
            var children = Directory.GetDirectories(arg).Where(RunSummary.IsRun).OrderBy(d => d, StringComparer.Ordinal).ToList();
            if (children.Count == 0) throw new UsageException($"report: {arg} is neither a run directory (no config.json) nor a folder of runs");
            dirs.AddRange(children);
        }
        var runs = RunSummary.WithDistinctNames(dirs.Select(RunSummary.Load).ToList());
        string outPath = cl.Value("out") ?? (runs.Count == 1 && RunSummary.IsRun(cl.Positional[0])
            ? Path.Combine(runs[0].Root, "report.html")
            : "report-compare.html");
        RunReport.Write(runs, outPath);
        Console.WriteLine($"wrote {Path.GetFullPath(outPath)} ({runs.Count} run{(runs.Count == 1 ? "" : "s")})");
        return 0;
    }
}
