using Crt.Data;
using Xunit;

namespace Crt.Tests;

public class DataTests
{
    [Fact]
    public void FashionMnistSplitsHaveTheDocumentedSizes()
    {
        var train = BuiltInDatasets.LoadFashionMnist(Split.Train);
        var val = BuiltInDatasets.LoadFashionMnist(Split.Validation);
        var test = BuiltInDatasets.LoadFashionMnist(Split.Test);
        Assert.Equal((55000, 5000, 10000), (train.Count, val.Count, test.Count));
        Assert.Equal((1, 28, 28), (train.Channels, train.Height, train.Width));
        Assert.Equal(10, train.NumClasses);
        // every class is present in each split, roughly balanced
        foreach (var set in new[] { train, val, test })
        {
            var counts = set.Labels.GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count());
            Assert.Equal(10, counts.Count);
            Assert.True(counts.Values.Min() > set.Count / 20);
        }
    }

    [Fact]
    public void BatchScalesToMinusOneOneAndPadsWithBlack()
    {
        var set = new ImageSet("t", 1, 2, 2, new byte[] { 0, 255, 51, 204 }, new[] { 1 }, new[] { "a", "b" });
        var b = set.Batch(new[] { 0 }, pad: 1);
        Assert.Equal(new[] { 1, 1, 4, 4 }, b.Shape);
        Assert.Equal(-1f, b[0, 0, 0, 0]);
        Assert.Equal(-1f, b[0, 0, 1, 1]);
        Assert.Equal(1f, b[0, 0, 1, 2]);
        Assert.Equal(0.6f, b[0, 0, 2, 2], 5);
        Assert.Equal(-1f, b[0, 0, 3, 3]);
    }

    [Fact]
    public void CorruptIdxFilesNameTheFileAndProblem()
    {
        var dir = Directory.CreateTempSubdirectory("crt-idx");
        try
        {
            var truncated = Path.Combine(dir.FullName, "t.idx");
            File.WriteAllBytes(truncated, new byte[] { 0, 0, 8, 1, 0, 0, 0, 10, 1, 2, 3 });
            var ex = Assert.Throws<InvalidDataException>(() => IdxFile.Read(truncated));
            Assert.Equal($"{truncated}: truncated: dimensions [10] need 10 bytes of data, the file has 3", ex.Message);

            var notIdx = Path.Combine(dir.FullName, "n.idx");
            File.WriteAllBytes(notIdx, new byte[] { 7, 7, 7, 7, 7 });
            Assert.StartsWith($"{notIdx}: not an IDX file", Assert.Throws<InvalidDataException>(() => IdxFile.Read(notIdx)).Message);

            var badGz = Path.Combine(dir.FullName, "b.gz");
            File.WriteAllBytes(badGz, new byte[] { 0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7 });
            Assert.StartsWith($"{badGz}: corrupt gzip stream", Assert.Throws<InvalidDataException>(() => IdxFile.Read(badGz)).Message);

            var missing = Path.Combine(dir.FullName, "missing.idx");
            Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => IdxFile.Read(missing)).Message);
        }
        finally { dir.Delete(true); }
    }
}

public class AugmentTests
{
    [Fact]
    public void FullScaleCropWithoutFlipIsTheIdentityAndFlipMirrors()
    {
        var x = new Crt.Tensors.Rng(1).Normal(new[] { 3, 2, 9, 9 });
        var same = Augment.RandomResizedCropAndFlip(x, new Crt.Tensors.Rng(2), minScale: 1f, flipProbability: 0f);
        Assert.Equal(x.ToArray(), same.ToArray());
        var flipped = Augment.RandomResizedCropAndFlip(x, new Crt.Tensors.Rng(2), minScale: 1f, flipProbability: 1f);
        Assert.Equal(x[1, 1, 4, 0], flipped[1, 1, 4, 8]);
        var cropped = Augment.RandomResizedCropAndFlip(x, new Crt.Tensors.Rng(3), minScale: 0.5f, flipProbability: 0.5f);
        Assert.Equal(x.Shape, cropped.Shape);
        Assert.All(cropped.ToArray(), v => Assert.InRange(v, x.ToArray().Min(), x.ToArray().Max())); // bilinear never overshoots
    }
}
