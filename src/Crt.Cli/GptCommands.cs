using System.Globalization;
using System.Text.Json;
using Crt.Data;
using Crt.Generator;
using Crt.Reporting;
using Crt.Tensors;
using Crt.Training;

namespace Crt.Cli;

/// <summary>crt gpt train | gpt eval | sample.</summary>
public static class GptCommands
{
    private const string TrainHelp = """
        usage: crt gpt train --tokens TRAIN.tokens [--val-tokens VAL.tokens] [options]

          --preset NAME       gpt-t1 … gpt-t5, gpt-b, gpt-l, gpt-xl, gpt-xxl, gpt-3b (default gpt-t2)
          --config FILE       a JSON config (any subset of the keys)
          --set KEY=VALUE     override one config key, e.g. --set batch_size=32 (repeatable)
          --out DIR           run directory (default runs/gpt-<preset>)
          --steps N           training steps
          --seed N            random seed
          --device D          cpu (default), cuda, cuda:N, or ilgpu-cpu (the GPU kernels on the CPU: slow, for testing)
          --resume            continue the run in --out from its latest checkpoint (--steps may extend it; any device)
          --quiet             no progress output
        """;

    public static int Train(string[] args, CancellationToken cancel)
    {
        if (args.Contains("--help")) { Console.WriteLine(TrainHelp); return 0; }
        var cl = CommandLine.Parse(args, new[] { "preset", "config", "set", "tokens", "val-tokens", "out", "steps", "seed", "device" }, new[] { "resume", "quiet" }, "gpt train");
        bool quiet = cl.Flag("quiet");
        var device = cl.Device();
        GptTrainer trainer;
        if (cl.Flag("resume"))
        {
            var dir = cl.Value("out") ?? throw new UsageException("gpt train --resume needs --out DIR (the run to continue)");
            trainer = GptTrainer.Resume(dir, cl.Long("steps"), quiet, device: device);
        }
        else
        {
            var defaults = ConfigResolver.Defaults(cl.Value("preset"), cl.Value("config"), "gpt-t2", GptTrainConfig.ForPreset);
            var sets = cl.Values("set").ToList();
            if (cl.Value("tokens") is { } t) sets.Add($"tokens={JsonSerializer.Serialize(t)}");
            if (cl.Value("val-tokens") is { } v) sets.Add($"val_tokens={JsonSerializer.Serialize(v)}");
            if (cl.Long("steps") is { } steps) sets.Add($"steps={steps}");
            if (cl.Long("seed") is { } seed) sets.Add($"seed={seed}");
            var config = ConfigResolver.Resolve(defaults, cl.Value("config"), sets);
            trainer = GptTrainer.Create(config, cl.Value("out") ?? Path.Combine("runs", $"gpt-{config.Preset}"), quiet, device: device);
        }
        var r = trainer.Fit(cancel);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{(r.Interrupted ? "stopped" : "done")}: {r.Steps} steps, {r.TrainingFlops:G3} training FLOPs, {r.Seconds:F0} s; run directory {trainer.Run.Root}"));
        return 0;
    }

    private const string EvalHelp = """
        usage: crt gpt eval --gpt RUN_OR_CHECKPOINT --tokens VAL.tokens [--images N] [--out DIR] [--device D]

        Writes modelability.json (CE per token and per position, position 0 apart, bits per image) and
        ce-per-position.svg into --out (default: the GPT's run directory).
        """;

    public static int Eval(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(EvalHelp); return 0; }
        var cl = CommandLine.Parse(args, new[] { "gpt", "tokens", "images", "out", "device" }, Array.Empty<string>(), "gpt eval");
        var gptPath = cl.Value("gpt") ?? throw new UsageException("gpt eval needs --gpt RUN_DIR");
        var device = cl.Device();
        var gpt = GptCheckpoint.Load(gptPath);
        gpt.Model.To(device);
        var storePath = cl.Value("tokens") ?? throw new UsageException("gpt eval needs --tokens FILE");
        var store = TokenStore.Read(storePath);
        CheckStoreMatches(gpt, store, storePath);
        var report = GptEvaluation.Evaluate(gpt.Model, store, (int)(cl.Long("images") ?? store.Count));
        var outDir = cl.Value("out") ?? (File.Exists(Path.Combine(gptPath, "config.json")) ? gptPath : ".");
        Directory.CreateDirectory(outDir);
        var result = new Dictionary<string, object?>(report.ToMetrics()) { ["gpt_step"] = gpt.Step, ["tokens"] = storePath };
        var json = JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true });
        AtomicFile.WriteAllText(Path.Combine(outDir, "modelability.json"), json + "\n");
        var chart = new SvgChart { Title = "Validation cross-entropy per position", XLabel = "token position (raster order)", YLabel = "CE (nats)" }
            .Add("CE", Enumerable.Range(0, report.CePerPosition.Length).Select(i => (double)i), report.CePerPosition);
        AtomicFile.WriteAllText(Path.Combine(outDir, "ce-per-position.svg"), chart.Render());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"CE per token {report.CePerToken:F4} nats (position 0: {report.CePosition0:F4}, others: {report.CeRest:F4}), {report.BitsPerImage:F1} bits/image over {report.Sequences} images; wrote {Path.Combine(outDir, "modelability.json")} and ce-per-position.svg"));
        return 0;
    }

    private static void CheckStoreMatches(GptCheckpoint gpt, TokenStore store, string path)
    {
        var m = gpt.Model.Config;
        if (store.Header.CodebookSize != m.VocabSize)
            throw new ArgumentException($"{path}: tokens come from a codebook of {store.Header.CodebookSize}, the GPT models {m.VocabSize} codes");
        if (store.Header.TokensPerImage != m.BlockSize)
            throw new ArgumentException($"{path}: {store.Header.TokensPerImage} tokens per image, the GPT models {m.BlockSize}");
        if (store.Header.NumClasses != m.NumClasses)
            throw new ArgumentException($"{path}: {store.Header.NumClasses} classes, the GPT was trained on {m.NumClasses}");
    }

    private const string SampleHelp = """
        usage: crt sample --gpt RUN --tokenizer RUN [options]

          --classes all|C1,C2,…   class ids to sample (default all: one row per class)
          --per-class N           images per class (default 8)
          --cfg S                 classifier-free guidance scale (default 1.5; 1 turns it off)
          --temperature T         (default 1.0)
          --top-k K               0 = off (default)
          --top-p P               in (0, 1], 1 = off (default)
          --seed N                same seed, same images (default 0)
          --device D              cpu (default), cuda, cuda:N or ilgpu-cpu (the GPU kernels on the CPU; slow)
          --batch N               images sampled together (default 64)
          --out DIR               (default: samples/ inside the GPT run) writes grid.png, images/*.png, samples.tokens
          --npz FILE              also writes the samples as ADM's evaluator reads them (LlamaGen's sample_c2i_ddp.py
                                  format): uint8 [N, H, W, 3] under arr_0, gray repeated to RGB
        """;

    public static int Sample(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(SampleHelp); return 0; }
        var cl = CommandLine.Parse(args, new[] { "gpt", "tokenizer", "classes", "per-class", "cfg", "temperature", "top-k", "top-p", "seed", "batch", "out", "npz", "device" },
            new[] { "quiet" }, "sample");
        var device = cl.Device();
        var gptPath = cl.Value("gpt") ?? throw new UsageException("sample needs --gpt RUN_DIR");
        var gpt = GptCheckpoint.Load(gptPath);
        var tok = TokenizerCheckpoint.Load(cl.Value("tokenizer") ?? throw new UsageException("sample needs --tokenizer RUN_DIR (the tokenizer whose codes the GPT models)"));
        if (gpt.TokenizerSha256 != "" && gpt.TokenizerSha256 != tok.Sha256)
            throw new ArgumentException($"{tok.WeightsPath}: this tokenizer (sha256 {tok.Sha256[..12]}…) did not make the GPT's training tokens (sha256 {gpt.TokenizerSha256[..12]}…)");
        var m = gpt.Model.Config;
        if (tok.Config.Model.CodebookSize != m.VocabSize || tok.Config.Model.TokensPerImage != m.BlockSize)
            throw new ArgumentException($"{tok.WeightsPath}: tokenizer has K = {tok.Config.Model.CodebookSize} and {tok.Config.Model.TokensPerImage} tokens, the GPT models K = {m.VocabSize} and {m.BlockSize}");
        gpt.Model.To(device);
        tok.Model.To(device);
        var options = Sampling(cl);
        options.Validate(m.VocabSize);
        int perClass = (int)(cl.Long("per-class") ?? 8);
        var classList = (cl.Value("classes") ?? "all") == "all"
            ? Enumerable.Range(0, m.NumClasses).ToArray()
            : cl.Value("classes")!.Split(',').Select(s => int.TryParse(s, out var c) && c >= 0 && c < m.NumClasses ? c
                : throw new ArgumentException($"--classes: '{s}' is not a class id in 0..{m.NumClasses - 1}")).ToArray();
        var labels = classList.SelectMany(c => Enumerable.Repeat(c, perClass)).ToArray();
        var outDir = cl.Value("out") ?? Path.Combine(gptPath, "samples");
        var result = SampleImages.Run(gpt.Model, tok, labels, options, new Rng((ulong)(cl.Long("seed") ?? 0)), (int)(cl.Long("batch") ?? 64), outDir, perClass, cl.Flag("quiet"));
        Console.WriteLine($"wrote {result.Count} samples to {outDir} (grid.png: one row per class; images/; samples.tokens)");
        if (cl.Value("npz") is { } npz)
        {
            NpzImages.Write(npz, result.Images);
            Console.WriteLine($"wrote {npz}: arr_0 uint8 [{result.Count}, {result.Images.Shape[2]}, {result.Images.Shape[3]}, 3]");
        }
        return 0;
    }

    /// <summary>--cfg, --temperature, --top-k, --top-p as sampling options (shared by sample and eval).</summary>
    internal static SamplingOptions Sampling(CommandLine cl) => new()
    {
        CfgScale = cl.Float("cfg", 1.5f), Temperature = cl.Float("temperature", 1f),
        TopK = (int)(cl.Long("top-k") ?? 0), TopP = cl.Float("top-p", 1f),
    };
}
