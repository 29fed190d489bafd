using Crt.Evaluation;
using Crt.Tensors;
using Xunit;

namespace Crt.Tests;

[Collection("console")]
public sealed class FeatureNetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-feat-").FullName;
    public void Dispose()
    {
        Environment.SetEnvironmentVariable("CRT_CACHE", null);
        Environment.SetEnvironmentVariable("CRT_DATA", null);
        Directory.Delete(_dir, recursive: true);
    }

    private string WriteStripesDataset(int count) => StripesDataset.Write(Path.Combine(_dir, "stripes"), count, count, seed: 7);

    [Fact]
    public void TrainsOnceCachesByDatasetAndLearnsAnEasyTask()
    {
        Environment.SetEnvironmentVariable("CRT_CACHE", Path.Combine(_dir, "cache"));
        var data = WriteStripesDataset(6600); // 1,600 training images after the fixed 5,000-image validation split
        var log = new List<string>();
        var first = FeatureNetCache.GetOrTrain(data, log.Add);
        Assert.Contains(log, l => l.StartsWith("training feature net", StringComparison.Ordinal));
        Assert.True(first.TestAccuracy > 0.9, $"accuracy {first.TestAccuracy}");
        Assert.True(File.Exists(first.Path));
        Assert.StartsWith(Path.Combine(_dir, "cache", "features"), first.Path);

        log.Clear();
        var second = FeatureNetCache.GetOrTrain(data, log.Add);
        Assert.Empty(log); // loaded, not retrained
        Assert.Equal(first.TestAccuracy, second.TestAccuracy);
        var x = new Rng(1).Uniform(new[] { 6, 1, 32, 32 }, -1, 1);
        using (Tensor.NoGrad()) Assert.Equal(first.Net.Features(x).ToArray(), second.Net.Features(x).ToArray());

        // Identical sets have FID 0 and precision/recall (1, 1) under the network.
        var report = GenerationEvaluation.Compare(second, x, x, isSplits: 1);
        Assert.Equal(0, report.Fid, 3);
        Assert.Equal((1.0, 1.0), (report.Precision, report.Recall));
        Assert.Equal(first.Name, report.FeatureNet);
    }

    /// <summary>
    /// A network shipped under data/feature-nets/ (here found through $CRT_DATA) is used before the cache and before
    /// training, and named by its file's SHA-256; an unreadable one is passed over with a line saying so.
    /// </summary>
    [Fact]
    public void AShippedNetworkComesFirstAndIsNamedByItsHash()
    {
        Environment.SetEnvironmentVariable("CRT_CACHE", Path.Combine(_dir, "cache"));
        var data = WriteStripesDataset(5600);
        var trained = FeatureNetCache.GetOrTrain(data, _ => { });
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(trained.Path))), trained.Sha256);

        var shipped = Path.Combine(_dir, "shipped", "feature-nets", Path.GetFileName(trained.Path));
        Directory.CreateDirectory(Path.GetDirectoryName(shipped)!);
        File.Copy(trained.Path, shipped);
        Environment.SetEnvironmentVariable("CRT_DATA", Path.Combine(_dir, "shipped"));
        Environment.SetEnvironmentVariable("CRT_CACHE", Path.Combine(_dir, "empty-cache"));
        var log = new List<string>();
        var net = FeatureNetCache.GetOrTrain(data, log.Add);
        Assert.Empty(log); // read, not trained
        Assert.Equal((shipped, trained.Sha256), (net.Path, net.Sha256));

        File.WriteAllBytes(shipped, new byte[] { 1, 2, 3 });
        Environment.SetEnvironmentVariable("CRT_CACHE", Path.Combine(_dir, "cache"));
        log.Clear();
        var fromCache = FeatureNetCache.GetOrTrain(data, log.Add);
        Assert.Contains(log, l => l.Contains(shipped) && l.Contains("unreadable"));
        Assert.Equal((trained.Path, trained.Sha256), (fromCache.Path, fromCache.Sha256));
    }

    /// <summary>
    /// The cheap form of `crt features check`: under a feature net trained on the stripes task, 300 test
    /// images against themselves blurred or noised at growing strength give growing FIDs, all above the
    /// FID against the training images (the same pixels here, so 0). The full numbers on Fashion-MNIST
    /// come from `crt features check` (README).
    /// </summary>
    [Fact]
    public void FidUnderTheFeatureNetRisesWithBlurAndNoise()
    {
        Environment.SetEnvironmentVariable("CRT_CACHE", Path.Combine(_dir, "cache"));
        var data = WriteStripesDataset(6600);
        var net = FeatureNetCache.GetOrTrain(data, _ => { });
        var first = Enumerable.Range(0, 300).ToArray();
        var reference = Crt.Data.BuiltInDatasets.Load(data, Crt.Data.Split.Test).Batch(first, FeatureNetCache.Pad);
        var train = Crt.Data.BuiltInDatasets.Load(data, Crt.Data.Split.Train).Batch(first, FeatureNetCache.Pad);
        var rows = FidSanityCheck.Run(net, reference, train, "train");
        Assert.Equal(1 + FidSanityCheck.BlurSigmas.Length + FidSanityCheck.NoiseSigmas.Length, rows.Count);
        var floor = rows[0].Fid;
        var blur = rows.Skip(1).Take(FidSanityCheck.BlurSigmas.Length).Select(r => r.Fid).ToArray();
        var noise = rows.Skip(1 + blur.Length).Select(r => r.Fid).ToArray();
        string table = string.Join(", ", rows.Select(r => $"{r.Comparison}: {r.Fid:G4}"));
        Assert.True(floor < blur[0] && floor < noise[0], table);
        for (int i = 1; i < blur.Length; i++) Assert.True(blur[i] > blur[i - 1], table);
        for (int i = 1; i < noise.Length; i++) Assert.True(noise[i] > noise[i - 1], table);
    }

    [Fact]
    public void BlurIsScipysGaussianFilterAndNoiseIsClamped()
    {
        // scipy.ndimage.gaussian_filter(np.arange(20.).reshape(4, 5), σ): row 0 at σ = 0.5, row 3 at σ = 2
        // (a radius of 8 pixels, wider than the image, so the mirrored border repeats).
        var ramp = Tensor.From(Enumerable.Range(0, 20).Select(i => (float)i).ToArray(), 1, 1, 4, 5);
        var sharp = ImageDegradations.GaussianBlur(ramp, 0.5);
        var wide = ImageDegradations.GaussianBlur(ramp, 2.0);
        double[] row0 = { 0.6434542, 1.5364757, 2.53621184, 3.53594797, 4.42896947 };
        double[] row3 = { 10.76138119, 11.09015107, 11.6216029, 12.15305474, 12.48182462 };
        for (int x = 0; x < 5; x++)
        {
            Assert.Equal(row0[x], sharp[0, 0, 0, x], tolerance: 1e-5); // float32 output
            Assert.Equal(row3[x], wide[0, 0, 3, x], tolerance: 1e-5);
        }
        var image = new Rng(3).Uniform(new[] { 2, 1, 8, 8 }, -1, 1);
        Assert.Equal(image.ToArray(), ImageDegradations.GaussianNoise(image, 0, new Rng(1)).ToArray());
        var noisy = ImageDegradations.GaussianNoise(image, 5, new Rng(1)).ToArray();
        Assert.All(noisy, v => Assert.InRange(v, -1f, 1f));
        Assert.Contains(noisy, v => v == -1f);
        Assert.Throws<ArgumentException>(() => ImageDegradations.GaussianBlur(image, 0));
    }
}
