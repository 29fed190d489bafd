using System.Globalization;
using System.Text.Json;
using Crt.Data;
using Crt.Evaluation;
using Crt.Tensors;
using Crt.Training;

namespace Crt.Cli;

/// <summary>crt features train | check.</summary>
public static class FeaturesCommands
{
    private const string TrainHelp = """
        usage: crt features train [--data fashion-mnist|DIR | --tokenizer RUN] [--retrain] [--device D] [--quiet]

        Trains the feature network used for "FID (feature net)" on the dataset, states its test accuracy,
        and caches it under $CRT_CACHE/features (default ~/.cache/crt/features). Other commands train it
        on first use; this one does it ahead of time (or again with --retrain). Where a network is shipped
        for the dataset under data/feature-nets/ (Fashion-MNIST has one), every command uses that one; a
        network trained here with --retrain is used only once that file is gone. --tokenizer RUN takes the
        data, its preprocessing and padding from a tokenizer run (needed for an image folder, whose images
        have no size of their own). --device trains it on cpu (default), cuda, cuda:N or ilgpu-cpu. --quiet
        prints only the result line.
        """;

    public static int Train(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(TrainHelp); return 0; }
        var cl = CommandLine.Parse(args, new[] { "data", "tokenizer", "device" }, new[] { "retrain", "quiet" }, "features train");
        var device = cl.Device();
        Action<string> log = cl.Flag("quiet") ? _ => { } : Console.WriteLine;
        TrainedFeatureNet fn;
        if (cl.Value("tokenizer") is { } tokPath)
        {
            if (cl.Value("data") is not null) throw new UsageException("features train: give --data or --tokenizer, not both (the tokenizer names its data)");
            var cfg = TokenizerCheckpoint.Load(tokPath).Config;
            fn = FeatureNetCache.GetOrTrain(cfg.Data, log, cl.Flag("retrain"), cfg.Images(), cfg.Pad, device);
        }
        else
        {
            var data = cl.Value("data") ?? BuiltInDatasets.FashionMnist;
            if (data != BuiltInDatasets.FashionMnist && Directory.Exists(data) && !BuiltInDatasets.IsIdxFolder(data))
                throw new UsageException($"features train: {data} is an image folder; give --tokenizer RUN instead, so its images are preprocessed and padded as that tokenizer's");
            fn = FeatureNetCache.GetOrTrain(data, log, cl.Flag("retrain"), device: device);
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{fn.Name}: test accuracy {100 * fn.TestAccuracy:F2}%, weights {fn.Path}"));
        return 0;
    }

    private const string CheckHelp = """
        usage: crt features check [--data fashion-mnist|DIR] [--images N] [--inception FILE] [--seed N] [--out FILE] [--device D] [--quiet]

        The sanity check of a Fréchet distance: FID between the first N test images and the first N
        training images (the floor finite samples leave), and between the test images and themselves
        Gaussian-blurred (σ = 0.5, 1, 1.5, 2 pixels, scipy's gaussian_filter) or with Gaussian noise
        (σ = 0.05, 0.1, 0.2, 0.4 in [−1, 1] units, clamped). A sound network ranks more damage farther.

          --images N        images per set (default 10000)
          --inception FILE  under InceptionV3-FID (see crt eval --help) instead of the dataset's feature net
          --seed N          the noise (default 0)
          --out FILE        also write the numbers as JSON
          --device D        cpu (default), cuda, cuda:N or ilgpu-cpu
          --quiet           no progress lines (feature-net training, embedding); the table is still printed
        """;

    public static int Check(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(CheckHelp); return 0; }
        var cl = CommandLine.Parse(args, new[] { "data", "images", "inception", "seed", "out", "device" }, new[] { "quiet" }, "features check");
        var device = cl.Device();
        Action<string> log = cl.Flag("quiet") ? _ => { } : Console.WriteLine;
        var data = cl.Value("data") ?? BuiltInDatasets.FashionMnist;
        IFeatureExtractor net = cl.Value("inception") is { } weights
            ? (InceptionV3Fid)InceptionV3Fid.FromFile(weights).To(device)
            : FeatureNetCache.GetOrTrain(data, log, device: device);
        var test = BuiltInDatasets.Load(data, Split.Test);
        var train = BuiltInDatasets.Load(data, Split.Train);
        int n = (int)Math.Min(cl.Long("images") ?? 10000, Math.Min(test.Count, train.Count));
        if (n < 2) throw new UsageException($"features check: --images must be at least 2, got {n}");
        var first = Enumerable.Range(0, n).ToArray();
        var reference = test.Batch(first, FeatureNetCache.Pad).Keep();
        var other = train.Batch(first, FeatureNetCache.Pad).Keep();
        Console.WriteLine($"FID under {net.Name}: {test.Name} ({n} images) against");
        var rows = FidSanityCheck.Run(net, reference, other, train.Name, (ulong)(cl.Long("seed") ?? 0), Console.WriteLine);
        if (cl.Value("out") is { } outPath)
        {
            var json = new Dictionary<string, object?>
            {
                ["feature_net"] = net.Name, ["images"] = n, ["reference"] = test.Name, ["other"] = train.Name,
                [$"fid_{net.Name}"] = rows.ToDictionary(r => r.Comparison, r => r.Fid),
            };
            AtomicFile.WriteAllText(outPath, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }
        return 0;
    }
}
