using System.Globalization;
using Crt.Training;

namespace Crt.Cli;

/// <summary>crt demo: the whole pipeline, baseline vs CRT, on the built-in dataset.</summary>
public static class DemoCommand
{
    private const string Help = """
        usage: crt demo [--budget X] [--seeds N] [--lambda-max L] [--crt-set KEY=VALUE ...] [--data D] [--flip auto|on|off] [--no-flip] [--out DIR] [--seed N] [--device D] [--quiet]

        Trains a baseline and a CRT vq-tiny tokenizer at equal compute on the built-in Fashion-MNIST,
        tokenizes with each, trains the same GPT (gpt-t2) on both token sets at equal compute, measures
        reconstruction, per-position cross-entropy and FID/IS/precision-recall under the in-project
        feature network, and writes DIR/report.html (default runs/demo). --budget scales every step count
        (default 1); a demo that is interrupted continues where it stopped when run again.
        --lambda-max sets the CRT tokenizer's λ_max (default 4, the paper's), ramped over its first 1000
        steps as in the paper (a short demo stops partway up the ramp). --crt-set KEY=VALUE (repeatable) sets
        any other tokenizer setting of the CRT arm alone, as `crt tokenizer train --set` does: one arm of the
        ablation study in docs/results.md, e.g. --crt-set crt.ramp_steps=250 or --crt-set model.entropy_loss_ratio=0.1
        (not the step count, seed, data or schedule, which the demo sets for both arms). --data runs it on another dataset:
        a folder of MNIST-style IDX files, or of images in class subfolders (read as 28×28 gray,
        centre-cropped). --flip sets the tokenizers' random horizontal flips and the mirrored copies
        tokenized for the GPT: auto (default) = on for Fashion-MNIST and image folders, off for other IDX
        data (digits and letters, where a mirrored image is another symbol); --no-flip = --flip off.
        --seeds N repeats the whole comparison with seeds S, S+1, … (S = --seed, default 0), each in DIR/seed-S/,
        and gives claim 3's verdict at this budget with a 95% interval over them (N times the time; one seed,
        the default, gives no interval, and the report says so).
        --device runs every model on cpu (default), cuda, cuda:N or ilgpu-cpu (the GPU kernels on the CPU: slow).
        """;

    public static int Run(string[] args, CancellationToken cancel)
    {
        if (args.Contains("--help")) { Console.WriteLine(Help); return 0; }
        var cl = CommandLine.Parse(args, new[] { "budget", "out", "seed", "seeds", "lambda-max", "crt-set", "data", "flip", "device" }, new[] { "quiet", "no-flip" }, "demo");
        var device = cl.Device();
        double budget = 1;
        if (cl.Value("budget") is { } b && (!double.TryParse(b, NumberStyles.Float, CultureInfo.InvariantCulture, out budget) || budget <= 0))
            throw new UsageException($"--budget {b}: expected a positive number");
        float lambdaMax = 4;
        if (cl.Value("lambda-max") is { } l && (!float.TryParse(l, NumberStyles.Float, CultureInfo.InvariantCulture, out lambdaMax) || lambdaMax <= 0))
            throw new UsageException($"--lambda-max {l}: expected a positive number");
        long seeds = cl.Long("seeds") ?? 1;
        if (seeds is < 1 or > 1000) throw new UsageException($"--seeds {seeds}: expected a count from 1 to 1000");
        var options = new Demo.Options(budget, cl.Value("out") ?? Path.Combine("runs", "demo"), cl.Flag("quiet"), (ulong)(cl.Long("seed") ?? 0), lambdaMax,
            cl.Value("data") ?? Crt.Data.BuiltInDatasets.FashionMnist, Flip(cl), device, (int)seeds, cl.Values("crt-set"));
        try
        {
            var outcome = Demo.Run(options, cancel, Console.WriteLine);
            foreach (var r in outcome.Replicates)
            {
                string seed = outcome.Replicates.Count > 1 ? $"seed {r.Seed} " : "";
                foreach (var (name, arm) in new[] { ("baseline:", r.Baseline), ("CRT:     ", r.Crt) })
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{seed}{name} PSNR {arm.Reconstruction.Psnr:F2} dB, val CE {arm.Modelability.CePerToken:F4}, FID({arm.Generation.FeatureNet}) {arm.Generation.Fid:F3}"));
            }
            Console.WriteLine($"{Demo.Reading(outcome.Baseline, outcome.Crt)}\n{Demo.Verdict(outcome.Replicates)}\nreport: {Path.GetFullPath(outcome.Report)}");
            return 0;
        }
        catch (OperationCanceledException e)
        {
            Console.Error.WriteLine($"crt: {e.Message}");
            return 130;
        }
    }

    private static string Flip(CommandLine cl)
    {
        var flip = cl.Value("flip");
        if (cl.Flag("no-flip"))
        {
            if (flip is not null and not "off") throw new UsageException($"--no-flip contradicts --flip {flip}");
            return "off";
        }
        flip ??= "auto";
        if (!Crt.Data.FlipSetting.Values.Contains(flip))
            throw new UsageException($"--flip {flip}: expected one of {string.Join(", ", Crt.Data.FlipSetting.Values)}");
        return flip;
    }
}
