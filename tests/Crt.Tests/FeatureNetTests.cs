using System.IO.Compression;
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
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>An MNIST-style IDX folder whose class c is a bright horizontal bar at rows 2c..2c+3 plus noise.</summary>
    private string WriteStripesDataset(int count)
    {
        var dir = Path.Combine(_dir, "stripes");
        Directory.CreateDirectory(dir);
        var rng = new Rng(7);
        var pixels = new byte[count * 28 * 28];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            int c = i % 10;
            labels[i] = (byte)c;
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                    pixels[i * 784 + y * 28 + x] = (byte)((y >= 2 * c + 4 && y < 2 * c + 8 ? 200 : 20) + rng.NextInt(40));
        }
        void Write(string name, byte[] header, byte[] body)
        {
            using var f = File.Create(Path.Combine(dir, name));
            using var z = new GZipStream(f, CompressionLevel.Fastest);
            z.Write(header); z.Write(body);
        }
        byte[] Be(params int[] v) => v.SelectMany(x => new[] { (byte)(x >> 24), (byte)(x >> 16), (byte)(x >> 8), (byte)x }).ToArray();
        foreach (var prefix in new[] { "train", "t10k" })
        {
            Write($"{prefix}-images-idx3-ubyte.gz", Be(0x803, count, 28, 28), pixels);
            Write($"{prefix}-labels-idx1-ubyte.gz", Be(0x801, count), labels);
        }
        return dir;
    }

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
}
