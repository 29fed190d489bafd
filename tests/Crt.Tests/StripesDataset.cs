using System.IO.Compression;
using Crt.Tensors;

namespace Crt.Tests;

/// <summary>
/// A small MNIST-style IDX dataset that is easy to learn: class c (of 10) is a bright horizontal bar at
/// rows 2c+4..2c+7 on a dark, noisy background. The built-in split keeps the first 5,000 training
/// images back for validation, so a dataset with n training images trains on n − 5,000.
/// </summary>
internal static class StripesDataset
{
    /// <param name="naming">How the files are named and stored: "gz" (train-images-idx3-ubyte.gz, as distributed), "raw"
    /// (unzipped), "dot-raw" / "dot-gz" (train-images.idx3-ubyte, as some archives unpack).</param>
    public static string Write(string dir, int trainCount, int testCount, ulong seed = 5, string naming = "gz")
    {
        Directory.CreateDirectory(dir);
        var rng = new Rng(seed);
        foreach (var (prefix, count) in new[] { ("train", trainCount), ("t10k", testCount) })
        {
            var pixels = new byte[count * 784];
            var labels = new byte[count];
            for (int i = 0; i < count; i++)
            {
                labels[i] = (byte)(i % 10);
                for (int p = 0; p < 784; p++) pixels[i * 784 + p] = (byte)((p / 28 >= 2 * labels[i] + 4 && p / 28 < 2 * labels[i] + 8 ? 200 : 20) + rng.NextInt(40));
            }
            string sep = naming.StartsWith("dot", StringComparison.Ordinal) ? "." : "-";
            bool gz = naming.EndsWith("gz", StringComparison.Ordinal);
            Save(Path.Combine(dir, $"{prefix}-images{sep}idx3-ubyte"), gz, Be(0x803, count, 28, 28), pixels);
            Save(Path.Combine(dir, $"{prefix}-labels{sep}idx1-ubyte"), gz, Be(0x801, count), labels);
        }
        return dir;
    }

    private static byte[] Be(params int[] v) => v.SelectMany(x => new[] { (byte)(x >> 24), (byte)(x >> 16), (byte)(x >> 8), (byte)x }).ToArray();

    private static void Save(string path, bool gz, byte[] header, byte[] body)
    {
        using var file = File.Create(gz ? path + ".gz" : path);
        using var z = gz ? new GZipStream(file, CompressionLevel.Fastest) : (Stream)file;
        z.Write(header);
        z.Write(body);
    }
}
