using System.Globalization;
using System.Text.Json;
using Crt.Data;
using Crt.Evaluation;
using Crt.Generator;
using Crt.Tensors;
using Crt.Training;

namespace Crt.Cli;

/// <summary>crt features train | eval.</summary>
public static class EvalCommands
{
    private const string FeaturesHelp = """
        usage: crt features train [--data fashion-mnist|DIR | --tokenizer RUN] [--retrain]

        Trains the feature network used for "FID (feature net)" on the dataset, states its test accuracy,
        and caches it under $CRT_CACHE/features (default ~/.cache/crt/features). Other commands train it
        on first use; this one does it ahead of time (or again with --retrain). --tokenizer RUN takes the
        data, its preprocessing and padding from a tokenizer run (needed for an image folder, whose images
        have no size of their own).
        """;

    public static int FeaturesTrain(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(FeaturesHelp); return 0; }
        var cl = CommandLine.Parse(args, new[] { "data", "tokenizer" }, new[] { "retrain" }, "features train");
        TrainedFeatureNet fn;
        if (cl.Value("tokenizer") is { } tokPath)
        {
            if (cl.Value("data") is not null) throw new UsageException("features train: give --data or --tokenizer, not both (the tokenizer names its data)");
            var cfg = TokenizerCheckpoint.Load(tokPath).Config;
            fn = FeatureNetCache.GetOrTrain(cfg.Data, Console.WriteLine, cl.Flag("retrain"), cfg.Images(), cfg.Pad);
        }
        else
        {
            var data = cl.Value("data") ?? BuiltInDatasets.FashionMnist;
            if (data != BuiltInDatasets.FashionMnist && Directory.Exists(data) && !BuiltInDatasets.IsIdxFolder(data))
                throw new UsageException($"features train: {data} is an image folder; give --tokenizer RUN instead, so its images are preprocessed and padded as that tokenizer's");
            fn = FeatureNetCache.GetOrTrain(data, Console.WriteLine, cl.Flag("retrain"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{fn.Name}: test accuracy {100 * fn.TestAccuracy:F2}%, weights {fn.Path}"));
        return 0;
    }

    private const string EvalHelp = """
        usage: crt eval --tokenizer RUN [--gpt RUN] [options]

        Without --gpt: reconstruction of a split (MSE, PSNR, SSIM, codebook usage and entropy) and rFID,
        the Fréchet distance between the images and their reconstructions under the feature net.
        With --gpt: generation — samples per class, then FID, Inception-style score and precision/recall
        (k = 3) against the real split, every number naming the feature network and the counts.

          --split NAME        real images: test (default), validation, train
          --images N          real images used (default: the whole split)
          --samples N         generated images, spread evenly over the classes (default 10000)
          --cfg S, --temperature T, --top-k K, --top-p P, --seed N   sampling (as crt sample)
          --out FILE          the JSON (default: eval-reconstruction.json / eval-generation.json in the run)
        """;

    public static int Eval(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(EvalHelp); return 0; }
        var cl = CommandLine.Parse(args, new[] { "tokenizer", "gpt", "split", "images", "samples", "cfg", "temperature", "top-k", "top-p", "seed", "out" },
            new[] { "quiet" }, "eval");
        var tokPath = cl.Value("tokenizer") ?? throw new UsageException("eval needs --tokenizer RUN_DIR");
        var tok = TokenizerCheckpoint.Load(tokPath);
        var split = TokenizerCommands.ParseSplit(cl.Value("split") ?? "test");
        var set = TokenizerCommands.LoadSplit(tok.Config, split);
        int count = (int)Math.Min(cl.Long("images") ?? set.Count, set.Count);
        var fn = FeatureNetCache.GetOrTrain(tok.Config.Data, cl.Flag("quiet") ? _ => { } : Console.WriteLine, images: tok.Config.Images(), pad: tok.Config.Pad);
        var real = Tensor.Empty(count, set.Channels, set.Height + 2 * tok.Config.Pad, set.Width + 2 * tok.Config.Pad).Keep();
        set.Batch(Enumerable.Range(0, count).ToArray(), tok.Config.Pad).ReadOnlySpan.CopyTo(real.Span);
        Dictionary<string, object?> result;
        string defaultOut;
        if (cl.Value("gpt") is not { } gptPath)
        {
            var rec = TokenizerEvaluation.Evaluate(tok.Model, set, tok.Config.Pad, count);
            var recon = Reconstruct(tok, real);
            var g = GenerationEvaluation.Compare(fn, real, recon);
            result = new Dictionary<string, object?>(rec.ToMetrics())
            {
                [$"rfid_{fn.Name}"] = g.Fid, ["feature_net"] = fn.Name, ["feature_net_test_accuracy"] = fn.TestAccuracy, ["split"] = set.Name,
                ["tokenizer"] = tok.WeightsPath,
            };
            defaultOut = Path.Combine(tokPath, "eval-reconstruction.json");
        }
        else
        {
            var gpt = GptCheckpoint.Load(gptPath);
            if (gpt.TokenizerSha256 != "" && gpt.TokenizerSha256 != tok.Sha256)
                throw new ArgumentException($"{tok.WeightsPath}: this tokenizer did not make the GPT's training tokens");
            var options = GptCommands.Sampling(cl);
            int samples = (int)(cl.Long("samples") ?? 10000), k = gpt.Model.Config.NumClasses;
            var labels = Enumerable.Range(0, samples).Select(i => i % k).ToArray();
            var sampled = SampleImages.Run(gpt.Model, tok, labels, options, new Rng((ulong)(cl.Long("seed") ?? 0)), 100,
                Path.Combine(gptPath, "eval-samples"), columns: k, quiet: cl.Flag("quiet"));
            var g = GenerationEvaluation.Compare(fn, real, sampled.Images);
            result = new Dictionary<string, object?>(g.ToMetrics())
            {
                ["feature_net_test_accuracy"] = fn.TestAccuracy, ["real_split"] = set.Name, ["cfg"] = options.CfgScale,
                ["temperature"] = options.Temperature, ["top_k"] = options.TopK, ["top_p"] = options.TopP, ["gpt"] = gptPath, ["gpt_step"] = gpt.Step,
            };
            defaultOut = Path.Combine(gptPath, "eval-generation.json");
        }
        var json = JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true });
        var outPath = cl.Value("out") ?? defaultOut;
        AtomicFile.WriteAllText(outPath, json + "\n");
        Console.WriteLine(json);
        return 0;
    }

    private static Tensor Reconstruct(TokenizerCheckpoint tok, Tensor real)
    {
        var recon = Tensor.Empty(real.Shape).Keep();
        int n = real.Shape[0], per = real.Size / n;
        using var noGrad = Tensor.NoGrad();
        for (int start = 0; start < n; start += 200)
        {
            using var scope = TensorScope.Begin();
            int b = Math.Min(200, n - start);
            var x = Tensor.From(real.ReadOnlySpan.Slice(start * per, b * per), b, real.Shape[1], real.Shape[2], real.Shape[3]);
            var (r, _) = tok.Model.Forward(x);
            Ops.Clamp(r, -1f, 1f).ReadOnlySpan.CopyTo(recon.Span.Slice(start * per));
        }
        return recon;
    }
}
