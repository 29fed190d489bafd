using System.Globalization;
using System.Text.Json;
using Crt.Data;
using Crt.Training;

namespace Crt.Cli;

/// <summary>crt tokenizer train | tokenizer eval | tokenize.</summary>
public static class TokenizerCommands
{
    private const string TrainHelp = """
        usage: crt tokenizer train [options]

          --preset NAME       vq-tiny (default), vq-f8, vq-f16
          --config FILE       a JSON config (any subset of the keys; see configs/)
          --set KEY=VALUE     override one config key, e.g. --set crt.lambda_max=2 (repeatable)
          --no-crt            the baseline tokenizer (same as --set crt.enabled=false)
          --data NAME|DIR     fashion-mnist (default, built in), a folder of MNIST-style IDX files, or an image
                              folder DIR/CLASS/*.png|jpg|webp|bmp|gif (preprocessed by the keys image_size, channels,
                              resize; e.g. --set pad=0 --set resize=area)
          --out DIR           run directory (default runs/tokenizer-<preset>[-baseline])
          --steps N           training steps
          --seed N            random seed
          --device D          cpu (default), cuda, cuda:N, or ilgpu-cpu (the GPU kernels on the CPU: slow, for testing)
          --resume            continue the run in --out from its latest checkpoint (--steps may extend it; any device)
          --quiet             no progress output
        """;

    public static int Train(string[] args, CancellationToken cancel)
    {
        if (args.Contains("--help")) { Console.WriteLine(TrainHelp); return 0; }
        var cl = CommandLine.Parse(args, new[] { "preset", "config", "set", "data", "out", "steps", "seed", "device" }, new[] { "no-crt", "resume", "quiet" }, "tokenizer train");
        var device = cl.Device();
        bool quiet = cl.Flag("quiet");
        TokenizerTrainer trainer;
        if (cl.Flag("resume"))
        {
            var dir = cl.Value("out") ?? throw new UsageException("tokenizer train --resume needs --out DIR (the run to continue)");
            if (cl.Values("set").Count > 0 || cl.Value("config") is not null || cl.Value("preset") is not null)
                throw new UsageException("tokenizer train --resume continues a run with its recorded config; only --steps may change");
            trainer = TokenizerTrainer.Resume(dir, cl.Long("steps"), quiet, device: device);
        }
        else
        {
            var defaults = ConfigResolver.Defaults(cl.Value("preset"), cl.Value("config"), "vq-tiny", TokenizerTrainConfig.ForPreset);
            var sets = cl.Values("set").ToList();
            if (cl.Flag("no-crt")) sets.Add("crt.enabled=false");
            // A folder is recorded by its full path, so tokenize and eval find it from any working directory.
            if (cl.Value("data") is { } data) sets.Add($"data={JsonSerializer.Serialize(Directory.Exists(data) ? Path.GetFullPath(data) : data)}");
            if (cl.Long("steps") is { } steps) sets.Add($"steps={steps}");
            if (cl.Long("seed") is { } seed) sets.Add($"seed={seed}");
            var config = ConfigResolver.Resolve(defaults, cl.Value("config"), sets);
            var outDir = cl.Value("out") ?? Path.Combine("runs", $"tokenizer-{config.Preset}{(config.Crt.Enabled ? "" : "-baseline")}");
            trainer = TokenizerTrainer.Create(config, outDir, quiet, device: device);
        }
        var r = trainer.Train(cancel);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{(r.Interrupted ? "stopped" : "done")}: {r.Steps} steps, {r.TrainingFlops:G3} training FLOPs, {r.Seconds:F0} s; run directory {trainer.Run.Root}"));
        return 0;
    }

    private const string EvalHelp = """
        usage: crt tokenizer eval --tokenizer RUN_OR_CHECKPOINT [--split validation|test|train] [--images N] [--out FILE.json] [--device D]
        """;

    public static int Eval(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(EvalHelp); return 0; }
        var cl = CommandLine.Parse(args, new[] { "tokenizer", "split", "images", "out", "device" }, Array.Empty<string>(), "tokenizer eval");
        var device = cl.Device();
        var tok = TokenizerCheckpoint.Load(cl.Value("tokenizer") ?? throw new UsageException("tokenizer eval needs --tokenizer RUN_DIR"));
        tok.Model.To(device);
        var split = ParseSplit(cl.Value("split") ?? "validation");
        var set = tok.Config.LoadSplit(split);
        int images = (int)(cl.Long("images") ?? set.Count);
        var report = TokenizerEvaluation.Evaluate(tok.Model, set, tok.Config.Pad, images);
        var result = new Dictionary<string, object?>(report.ToMetrics())
        {
            ["tokenizer"] = tok.WeightsPath, ["tokenizer_sha256"] = tok.Sha256, ["split"] = set.Name, ["data_range"] = 2.0,
        };
        var json = JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true });
        Console.WriteLine(json);
        if (cl.Value("out") is { } outPath) AtomicFile.WriteAllText(outPath, json + "\n");
        return 0;
    }

    private const string TokenizeHelp = """
        usage: crt tokenize --tokenizer RUN_OR_CHECKPOINT [--split train|validation|test] [--variants original,flip] --out FILE.tokens [--device D]

          variants: original, flip, crop-tl|tr|bl|br|c and flip-crop-… (1.1× enlargement cut back at a corner or the centre), ten-crop (all ten crops)
          default: original,flip where the tokenizer's run flips its images (its flip setting: auto = not for digit/letter
          IDX data), else original
        """;

    public static int Tokenize(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(TokenizeHelp); return 0; }
        var cl = CommandLine.Parse(args, new[] { "tokenizer", "split", "variants", "out", "device" }, new[] { "quiet" }, "tokenize");
        var device = cl.Device();
        var tok = TokenizerCheckpoint.Load(cl.Value("tokenizer") ?? throw new UsageException("tokenize needs --tokenizer RUN_DIR"));
        tok.Model.To(device);
        var outPath = cl.Value("out") ?? throw new UsageException("tokenize needs --out FILE");
        var split = ParseSplit(cl.Value("split") ?? "train");
        var variants = (cl.Value("variants") ?? (tok.Config.Flips ? "original,flip" : "original")).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var set = tok.Config.LoadSplit(split);
        var progress = new ProgressReporter("tokenize", 0, set.Count, cl.Flag("quiet"));
        var header = Tokenization.Run(tok, set, outPath, variants, progress: (done, total) => progress.Report(done, Array.Empty<(string, double)>(), done / Math.Max(progress.Elapsed, 1e-9), "img"));
        Console.WriteLine($"wrote {outPath}: {header.Count} images × {header.Variants} variants × {header.TokensPerImage} tokens, codebook {header.CodebookSize}, tokenizer sha256 {header.TokenizerSha256[..12]}…");
        return 0;
    }

    internal static Split ParseSplit(string s) => s switch
    {
        "train" => Split.Train,
        "validation" or "val" => Split.Validation,
        "test" => Split.Test,
        _ => throw new UsageException($"unknown split '{s}'; valid splits: train, validation, test"),
    };
}
