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
        usage: crt eval --tokenizer RUN [--gpt RUN | --samples-npz FILE] [--real-npz FILE] [options]
               crt eval --inception FILE --samples-npz FILE --real-npz FILE [options]

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

        .npz files (ADM's evaluator format: uint8 [N, H, W, 3] under arr_0, as LlamaGen's sample_c2i_ddp.py and
        crt sample --npz write them) can stand in for either side: --samples-npz for the generated images (instead
        of sampling a GPT), --real-npz for the real ones (instead of the split; e.g. a reference batch). Under
        the feature network their images must be the tokenizer's size (or that size less its padding, which
        is added back); under --inception any size works, and no tokenizer is needed when both sides are files.

          --split NAME        real images: test (default), validation, train
          --images N          real images used (default: the whole split)
          --samples N         generated images, spread evenly over the classes (default 10000)
          --inception FILE    InceptionV3-FID weights (safetensors), made from pytorch-fid's
                              pt_inception-2015-12-05-6726825d.pth by tools/convert_inception.py
          --cfg S, --temperature T, --top-k K, --top-p P, --seed N   sampling (as crt sample)
          --samples-npz FILE  generated images from an .npz instead of --gpt
          --real-npz FILE     real images from an .npz instead of --split (with --gpt or --samples-npz)
          --device D          cpu (default), cuda, cuda:N or ilgpu-cpu: where the tokenizer, GPT and feature network run
          --out FILE          the JSON (default: eval-reconstruction.json / eval-generation.json in the run,
                              eval-generation.json beside the samples file with --samples-npz)
        """;

    public static int Eval(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(EvalHelp); return 0; }
        var cl = CommandLine.Parse(args, new[] { "tokenizer", "gpt", "split", "images", "samples", "inception", "cfg", "temperature", "top-k", "top-p", "seed", "out",
            "samples-npz", "real-npz", "device" }, new[] { "quiet" }, "eval");
        var device = cl.Device();
        string? tokPath = cl.Value("tokenizer"), samplesNpz = cl.Value("samples-npz"), realNpz = cl.Value("real-npz");
        if (samplesNpz is not null && cl.Value("gpt") is not null)
            throw new UsageException("--samples-npz and --gpt are two sources of generated images; give one");
        if (realNpz is not null && samplesNpz is null && cl.Value("gpt") is null)
            throw new UsageException("--real-npz is the real side of a generation score: give --gpt RUN or --samples-npz FILE too");
        Action<string> log = cl.Flag("quiet") ? _ => { } : Console.WriteLine;
        // A bad weights file fails here, before anything slow runs.
        var inception = cl.Value("inception") is { } weights ? InceptionV3Fid.FromFile(weights) : null;
        inception?.To(device);
        if (tokPath is null)
        {
            if (samplesNpz is null || realNpz is null || inception is null)
                throw new UsageException("eval needs --tokenizer RUN_DIR (or, to score .npz files alone: --samples-npz, --real-npz and --inception)");
            return FilesOnly(cl, inception, samplesNpz, realNpz, log);
        }
        var tok = TokenizerCheckpoint.Load(tokPath);
        tok.Model.To(device);
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
            trained.Net.To(device);
            fn = trained;
            about["feature_net_test_accuracy"] = trained.TestAccuracy;
        }
        Tensor real;
        if (realNpz is not null)
            real = FitToInput(First(NpzImages.Read(realNpz, tok.Config.Model.InChannels), cl.Long("images")), tok, inception is not null, realNpz).Keep();
        else
        {
            real = Tensor.Empty(count, set.Channels, set.Height + 2 * tok.Config.Pad, set.Width + 2 * tok.Config.Pad).Keep();
            set.Batch(Enumerable.Range(0, count).ToArray(), tok.Config.Pad).ReadOnlySpan.CopyTo(real.Span);
        }
        string realName = realNpz ?? set.Name;
        Dictionary<string, object?> result;
        string defaultOut;
        if (samplesNpz is not null)
        {
            var sampled = FitToInput(NpzImages.Read(samplesNpz, tok.Config.Model.InChannels), tok, inception is not null, samplesNpz);
            result = new Dictionary<string, object?>(GenerationEvaluation.Compare(fn, real, sampled).ToMetrics())
            {
                ["real"] = realName, ["samples_file"] = samplesNpz, ["tokenizer"] = tok.WeightsPath,
            };
            defaultOut = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(samplesNpz))!, "eval-generation.json");
        }
        else if (cl.Value("gpt") is not { } gptPath)
        {
            // Without --real-npz the real images are the evaluated ones: their reconstructions are kept, not made again.
            var recon = realNpz is null ? Tensor.Empty(real.Shape).Keep() : null;
            var rec = TokenizerEvaluation.Evaluate(tok.Model, set, tok.Config.Pad, count, reconstructions: recon);
            recon ??= TokenizerEvaluation.Reconstruct(tok.Model, real);
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
            gpt.Model.To(device);
            var options = GptCommands.Sampling(cl);
            int samples = (int)(cl.Long("samples") ?? 10000), k = gpt.Model.Config.NumClasses;
            var labels = Enumerable.Range(0, samples).Select(i => i % k).ToArray();
            var sampled = SampleImages.Run(gpt.Model, tok, labels, options, new Rng((ulong)(cl.Long("seed") ?? 0)), 100,
                Path.Combine(gptPath, "eval-samples"), columns: k, quiet: cl.Flag("quiet"));
            var g = GenerationEvaluation.Compare(fn, real, sampled.Images);
            result = new Dictionary<string, object?>(g.ToMetrics())
            {
                ["real_split"] = realName, ["cfg"] = options.CfgScale,
                ["temperature"] = options.Temperature, ["top_k"] = options.TopK, ["top_p"] = options.TopP, ["gpt"] = gptPath, ["gpt_step"] = gpt.Step,
            };
            defaultOut = Path.Combine(gptPath, "eval-generation.json");
        }
        foreach (var (key, value) in about) result[key] = value;
        return WriteResult(result, cl.Value("out") ?? defaultOut);
    }

    private static int WriteResult(Dictionary<string, object?> result, string outPath)
    {
        var json = JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true });
        AtomicFile.WriteAllText(outPath, json + "\n");
        Console.WriteLine(json);
        return 0;
    }

    /// <summary>Two .npz files scored under InceptionV3 (ADM-evaluator style; no tokenizer, images at their own size).</summary>
    private static int FilesOnly(CommandLine cl, InceptionV3Fid inception, string samplesNpz, string realNpz, Action<string> log)
    {
        inception.Progress = log;
        var real = First(NpzImages.Read(realNpz, 3), cl.Long("images")).Keep();
        var sampled = NpzImages.Read(samplesNpz, 3).Keep();
        var result = new Dictionary<string, object?>(GenerationEvaluation.Compare(inception, real, sampled).ToMetrics())
        {
            ["real"] = realNpz, ["samples_file"] = samplesNpz, ["feature_net_weights"] = cl.Value("inception"),
        };
        return WriteResult(result, cl.Value("out") ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(samplesNpz))!, "eval-generation.json"));
    }

    /// <summary>The first <paramref name="limit"/> images (all when null).</summary>
    private static Tensor First(Tensor images, long? limit)
    {
        if (limit is not { } n || n >= images.Shape[0]) return images;
        if (n < 1) throw new UsageException($"--images {n}: expected at least 1");
        int per = images.Size / images.Shape[0];
        return Tensor.From(images.ReadOnlySpan[..(int)(n * per)], (int)n, images.Shape[1], images.Shape[2], images.Shape[3]);
    }

    /// <summary>
    /// Images from a file as the feature network takes them: the tokenizer's input size, or that size less its padding
    /// (the padding, black, is added back). Under InceptionV3 (which resizes to 299) any size is kept.
    /// </summary>
    private static Tensor FitToInput(Tensor images, TokenizerCheckpoint tok, bool anySize, string path)
    {
        int size = tok.Config.Model.ImageSize, pad = tok.Config.Pad, h = images.Shape[2], w = images.Shape[3];
        if (anySize || (h == size && w == size)) return images;
        if (h != size - 2 * pad || w != size - 2 * pad)
            throw new ArgumentException($"{path}: images are {h}×{w}; the feature network takes {size}×{size} (or {size - 2 * pad}×{size - 2 * pad} before the tokenizer's padding); score other sizes with --inception");
        return Ops.Pad2d(images, Padding2d.Same(pad), -1f);
    }
}
