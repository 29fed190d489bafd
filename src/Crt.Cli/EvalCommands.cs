using System.Globalization;
using System.Text.Json;
using Crt.Data;
using Crt.Evaluation;
using Crt.Generator;
using Crt.Tensors;
using Crt.Training;

namespace Crt.Cli;

/// <summary>crt eval.</summary>
public static class EvalCommands
{
    private const string EvalHelp = """
        usage: crt eval --tokenizer RUN [--gpt RUN] [options]

        Without --gpt: reconstruction of a split (MSE, PSNR, SSIM, codebook usage and entropy) and rFID,
        the Fréchet distance between the images and their reconstructions under the feature network.
        With --gpt: generation — samples per class, then FID, Inception-style score and precision/recall
        (k = 3) against the real split, every number naming the feature network and the counts.

        The feature network is the dataset's own classifier (fmnist-cnn-v1-…, trained once and cached; see
        crt features train) unless --inception is given: then FID, IS and P&R are taken under InceptionV3
        with the FID weights ("inception-v3-fid": pool_3 features, images resized to 299×299 and gray
        repeated to RGB, IS from the 1008-way softmax of the bias-free logits as the original TF code).
        Numbers under the two networks do not compare with each other. InceptionV3 costs 11.4 GFLOP per
        image, ~570 times the feature net, so 10,000 images take many minutes on a CPU.

          --split NAME        real images: test (default), validation, train
          --images N          real images used (default: the whole split)
          --samples N         generated images, spread evenly over the classes (default 10000)
          --inception FILE    InceptionV3-FID weights (safetensors), made from pytorch-fid's
                              pt_inception-2015-12-05-6726825d.pth by tools/convert_inception.py
          --cfg S, --temperature T, --top-k K, --top-p P, --seed N   sampling (as crt sample)
          --out FILE          the JSON (default: eval-reconstruction.json / eval-generation.json in the run)
        """;

    public static int Eval(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(EvalHelp); return 0; }
        var cl = CommandLine.Parse(args, new[] { "tokenizer", "gpt", "split", "images", "samples", "inception", "cfg", "temperature", "top-k", "top-p", "seed", "out" },
            new[] { "quiet" }, "eval");
        var tokPath = cl.Value("tokenizer") ?? throw new UsageException("eval needs --tokenizer RUN_DIR");
        Action<string> log = cl.Flag("quiet") ? _ => { } : Console.WriteLine;
        // A bad weights file fails here, before anything slow runs.
        var inception = cl.Value("inception") is { } weights ? InceptionV3Fid.FromFile(weights) : null;
        var tok = TokenizerCheckpoint.Load(tokPath);
        var split = TokenizerCommands.ParseSplit(cl.Value("split") ?? "test");
        var set = tok.Config.LoadSplit(split);
        int count = (int)Math.Min(cl.Long("images") ?? set.Count, set.Count);
        IFeatureExtractor fn;
        var about = new Dictionary<string, object?>();
        if (inception is not null)
        {
            inception.Progress = log;
            fn = inception;
            about["feature_net_weights"] = cl.Value("inception");
        }
        else
        {
            var trained = FeatureNetCache.GetOrTrain(tok.Config.Data, log, images: tok.Config.Images(), pad: tok.Config.Pad);
            fn = trained;
            about["feature_net_test_accuracy"] = trained.TestAccuracy;
        }
        var real = Tensor.Empty(count, set.Channels, set.Height + 2 * tok.Config.Pad, set.Width + 2 * tok.Config.Pad).Keep();
        set.Batch(Enumerable.Range(0, count).ToArray(), tok.Config.Pad).ReadOnlySpan.CopyTo(real.Span);
        Dictionary<string, object?> result;
        string defaultOut;
        if (cl.Value("gpt") is not { } gptPath)
        {
            var rec = TokenizerEvaluation.Evaluate(tok.Model, set, tok.Config.Pad, count);
            var recon = TokenizerEvaluation.Reconstruct(tok.Model, real);
            var g = GenerationEvaluation.Compare(fn, real, recon);
            result = new Dictionary<string, object?>(rec.ToMetrics())
            {
                [$"rfid_{fn.Name}"] = g.Fid, ["feature_net"] = fn.Name, ["split"] = set.Name, ["tokenizer"] = tok.WeightsPath,
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
                ["real_split"] = set.Name, ["cfg"] = options.CfgScale,
                ["temperature"] = options.Temperature, ["top_k"] = options.TopK, ["top_p"] = options.TopP, ["gpt"] = gptPath, ["gpt_step"] = gpt.Step,
            };
            defaultOut = Path.Combine(gptPath, "eval-generation.json");
        }
        foreach (var (key, value) in about) result[key] = value;
        var json = JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true });
        var outPath = cl.Value("out") ?? defaultOut;
        AtomicFile.WriteAllText(outPath, json + "\n");
        Console.WriteLine(json);
        return 0;
    }
}
