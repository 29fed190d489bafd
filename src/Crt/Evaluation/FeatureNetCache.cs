using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Crt.Data;
using Crt.Tensors;
using Crt.Tensors.IO;
using Crt.Tensors.Optim;

namespace Crt.Evaluation;

/// <summary>
/// A trained feature network, the file it was read from or saved to, that file's SHA-256 (which network, exactly: FIDs
/// are comparable only under the same one) and its test accuracy; the extractor the metrics use by default.
/// </summary>
public sealed record TrainedFeatureNet(FeatureNet Net, string Name, string Path, double TestAccuracy, string Sha256) : IFeatureExtractor
{
    public int FeatureDim => FeatureNet.FeatureDim;
    public int NumClasses => Net.NumClasses;

    /// <summary>Penultimate features [N, 128] and softmax class probabilities [N, K] of images [N, C, S, S] in [−1, 1].</summary>
    public (float[] Features, float[] Probs) Embed(Tensor images) =>
        FeatureBatches.Embed(images, 500, FeatureDim, NumClasses, x =>
        {
            var f = Net.Features(x);
            return (f, Ops.Softmax(Net.Head.Forward(f), -1));
        }, device: Net.Device);
}

/// <summary>
/// Trains the feature network for a dataset once and caches its weights under
/// $CRT_CACHE/features (default ~/.cache/crt/features), keyed by dataset, architecture, training recipe
/// and a hash of the training data, so a changed dataset or recipe retrains and nothing else does.
/// A network shipped with crt under data/feature-nets/ (the same file name) comes first: training is
/// bit-reproducible only for one build, machine class and thread count, and a network retrained elsewhere
/// moves every FID by a few points, so the shipped one is what makes FIDs comparable across machines and sessions.
/// </summary>
public static class FeatureNetCache
{
    public const int Epochs = 2, BatchSize = 128, Pad = 2;
    public const double Lr = 1e-3;
    private const string Recipe = "adamw-lr1e-3-b128-e2-seed0";

    public static string CacheDirectory =>
        Environment.GetEnvironmentVariable("CRT_CACHE") is { Length: > 0 } c ? System.IO.Path.Combine(c, "features")
            : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "crt", "features");

    /// <summary>
    /// The cached network for <paramref name="dataset"/>, training it first when missing (or when <paramref name="retrain"/>).
    /// An image folder is read with <paramref name="images"/>; the network sees the images padded by <paramref name="pad"/>,
    /// as the tokenizer whose images it will measure sees them.
    /// </summary>
    /// <param name="device">Where the network trains (when it is not cached) and then runs.</param>
    public static TrainedFeatureNet GetOrTrain(string dataset, Action<string> log, bool retrain = false, ImageOptions? images = null, int pad = Pad,
        Device? device = null)
    {
        var train = BuiltInDatasets.Load(dataset, Split.Train, images, log);
        string key = Key(dataset, train, pad);
        string name = $"{FeatureNet.Architecture}-{DatasetName(dataset)}";
        var path = System.IO.Path.Combine(CacheDirectory, $"{name}-{key}.safetensors");
        var net = new FeatureNet(train.Channels, train.Height + 2 * pad, train.NumClasses, new Rng(0));
        net.To(device ?? Device.Cpu);
        if (!retrain)
        {
            if (Shipped(System.IO.Path.GetFileName(path)) is { } shipped && TryLoad(net, name, shipped, "shipped feature net", log) is { } fromShipped)
                return fromShipped;
            if (File.Exists(path) && TryLoad(net, name, path, "feature net cache", log) is { } fromCache) return fromCache;
        }
        log($"training feature net {name} on {train.Name} ({Epochs} epochs, batch {BatchSize}); cached afterwards at {path}");
        Train(net, train, pad, log);
        var test = BuiltInDatasets.Load(dataset, Split.Test, images, log);
        double acc = Accuracy(net, test, pad);
        string where = net.Device.IsCpu ? $"{Crt.Tensors.Kernels.Cpu.Par.Threads} threads" : net.Device.Name;
        log(string.Create(CultureInfo.InvariantCulture, $"feature net test accuracy {100 * acc:F2}% on {test.Name} ({test.Count} images), trained with {where}"));
        Directory.CreateDirectory(CacheDirectory);
        net.Save(path, new Dictionary<string, string>
        {
            ["architecture"] = FeatureNet.Architecture, ["recipe"] = Recipe, ["dataset"] = dataset,
            ["test_accuracy"] = acc.ToString("R", CultureInfo.InvariantCulture),
            // Training is bit-reproducible for a given thread count, not across counts (some reductions group
            // their partial sums per thread), so the count says which network this is.
            ["threads"] = Crt.Tensors.Kernels.Cpu.Par.Threads.ToString(CultureInfo.InvariantCulture),
            ["device"] = net.Device.Name,
        });
        net.Eval();
        return new TrainedFeatureNet(net, name, path, acc, FileSha256(path));
    }

    /// <summary>Whether a network for the dataset is shipped or cached (its training data is not read to check the key).</summary>
    public static bool Available(string dataset)
    {
        string prefix = $"{FeatureNet.Architecture}-{DatasetName(dataset)}-";
        bool In(string? dir) => dir is not null && Directory.Exists(dir) && Directory.EnumerateFiles(dir, prefix + "*.safetensors").Any();
        return In(ShippedDirectory()) || In(CacheDirectory);
    }

    /// <summary>data/feature-nets/FILE, or null.</summary>
    public static string? Shipped(string fileName) =>
        ShippedDirectory() is { } dir && System.IO.Path.Combine(dir, fileName) is var p && File.Exists(p) ? p : null;

    /// <summary>data/feature-nets, found as the datasets are ($CRT_DATA, or above the working or program directory), or null.</summary>
    private static string? ShippedDirectory()
    {
        try { return BuiltInDatasets.FindDataDirectory("feature-nets"); }
        catch (DirectoryNotFoundException) { return null; }
    }

    /// <summary>The network in <paramref name="path"/>, or null (and a line saying why) when the file is unreadable.</summary>
    private static TrainedFeatureNet? TryLoad(FeatureNet net, string name, string path, string what, Action<string> log)
    {
        try
        {
            net.Load(path);
            var meta = SafeTensors.LoadMetadata(path);
            net.Eval();
            return new TrainedFeatureNet(net, name, path, double.Parse(meta["test_accuracy"], CultureInfo.InvariantCulture), FileSha256(path));
        }
        catch (Exception e) when (e is InvalidDataException or KeyNotFoundException or FormatException or ArgumentException or IOException)
        {
            log($"{what} {path} is unreadable ({e.Message}); not used");
            return null;
        }
    }

    private static string FileSha256(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }

    private static void Train(FeatureNet net, ImageSet train, int pad, Action<string> log)
    {
        var rng = new Rng(0);
        var opt = new AdamW(ParamGroup.DecayAndNoDecay(net.NamedParameters(), 0.0), Lr, 0.9, 0.999, 1e-8);
        net.Train();
        int steps = Epochs * (train.Count / BatchSize);
        var order = Enumerable.Range(0, train.Count).ToArray();
        int at = order.Length;
        double recent = 0;
        for (int step = 1; step <= steps; step++)
        {
            if (at + BatchSize > order.Length)
            {
                for (int i = order.Length - 1; i > 0; i--) { int j = rng.NextInt(i + 1); (order[i], order[j]) = (order[j], order[i]); }
                at = 0;
            }
            var idx = order.AsSpan(at, BatchSize).ToArray();
            at += BatchSize;
            using var scope = TensorScope.Begin();
            opt.ZeroGrad();
            var loss = Ops.CrossEntropy(net.Logits(train.Batch(idx, pad).To(net.Device)), idx.Select(i => train.Labels[i]).ToArray());
            loss.Backward();
            opt.Step();
            recent = step == 1 ? loss.Item() : 0.98 * recent + 0.02 * loss.Item();
            if (step % 100 == 0 || step == steps) log(string.Create(CultureInfo.InvariantCulture, $"  feature net step {step}/{steps}  loss {recent:F4}"));
        }
        net.Eval();
    }

    public static double Accuracy(FeatureNet net, ImageSet set, int pad = Pad)
    {
        int correct = 0;
        using var noGrad = Tensor.NoGrad();
        for (int start = 0; start < set.Count; start += 500)
        {
            using var scope = TensorScope.Begin();
            int n = Math.Min(500, set.Count - start);
            var pred = Ops.ArgMax(net.Logits(set.Batch(Enumerable.Range(start, n).ToArray(), pad).To(net.Device)), -1);
            for (int i = 0; i < n; i++) if (pred[i] == set.Labels[start + i]) correct++;
        }
        return correct / (double)set.Count;
    }

    private static string DatasetName(string dataset) => dataset == BuiltInDatasets.FashionMnist ? dataset : "custom";

    private static string Key(string dataset, ImageSet train, int pad)
    {
        using var sha = SHA256.Create();
        // The padding joins the key only when it is not the default, so caches made before it was a parameter stay valid.
        var prefix = Encoding.UTF8.GetBytes($"{FeatureNet.Architecture}|{Recipe}|{dataset}|{(pad == Pad ? "" : $"pad{pad}|")}");
        sha.TransformBlock(prefix, 0, prefix.Length, null, 0);
        sha.TransformBlock(train.Pixels, 0, train.Pixels.Length, null, 0);
        var labels = train.Labels.Select(l => (byte)l).ToArray();
        sha.TransformFinalBlock(labels, 0, labels.Length);
        return Convert.ToHexString(sha.Hash!)[..12].ToLowerInvariant();
    }
}
