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

    [Theory]
    [InlineData("raw")]
    [InlineData("dot-raw")]
    [InlineData("dot-gz")]
    public void IdxFoldersAreReadRawOrGzippedUnderEitherNameAndNamedAfterTheFolder(string naming)
    {
        var dir = Directory.CreateTempSubdirectory("crt-mnist");
        try
        {
            StripesDataset.Write(dir.FullName, 5020, 30, naming: naming);
            var train = BuiltInDatasets.Load(dir.FullName, Split.Train);
            var val = BuiltInDatasets.Load(dir.FullName, Split.Validation);
            var test = BuiltInDatasets.Load(dir.FullName, Split.Test);
            Assert.Equal((20, 5000, 30), (train.Count, val.Count, test.Count));
            Assert.Equal($"{dir.Name}-train", train.Name); // not "fashion-mnist-train": the feature net and reports name it
            Assert.Equal($"{dir.Name}-t10k", test.Name);
            Assert.Equal(new[] { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" }, train.ClassNames);
            Assert.Equal(train.ClassNames, test.ClassNames);

            File.WriteAllLines(Path.Combine(dir.FullName, "classes.txt"), Enumerable.Range(0, 10).Select(i => $"digit {i}"));
            Assert.Equal("digit 7", BuiltInDatasets.Load(dir.FullName, Split.Test).ClassNames[7]);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void AMissingIdxFileNamesEveryNameItLookedFor()
    {
        var dir = Directory.CreateTempSubdirectory("crt-mnist");
        try
        {
            File.WriteAllBytes(Path.Combine(dir.FullName, "train-images-idx3-ubyte"), new byte[] { 0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1 });
            var e = Assert.Throws<FileNotFoundException>(() => BuiltInDatasets.Load(dir.FullName, Split.Test));
            Assert.Contains("t10k-images-idx3-ubyte.gz, t10k-images-idx3-ubyte, t10k-images.idx3-ubyte.gz, t10k-images.idx3-ubyte", e.Message);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void FlipsAreOffByDefaultForDigitDataAndOnForClothesAndImageFolders()
    {
        var dir = Directory.CreateTempSubdirectory("crt-mnist");
        var images = Directory.CreateTempSubdirectory("crt-images");
        try
        {
            StripesDataset.Write(dir.FullName, 10, 10);
            Assert.False(FlipSetting.Resolve("auto", dir.FullName));
            Assert.True(FlipSetting.Resolve("on", dir.FullName));
            Assert.True(FlipSetting.Resolve("auto", BuiltInDatasets.FashionMnist));
            Assert.False(FlipSetting.Resolve("off", BuiltInDatasets.FashionMnist));
            Assert.True(FlipSetting.Resolve("auto", images.FullName));
            Assert.Contains("orientation-sensitive", FlipSetting.Describe("auto", dir.FullName));
            Assert.Throws<ArgumentException>(() => FlipSetting.Resolve("sideways", dir.FullName));
            var cfg = Crt.Training.TokenizerTrainConfig.ForPreset("vq-tiny") with { Data = dir.FullName };
            Assert.False(cfg.Flips);
            Assert.Throws<ArgumentException>(() => (cfg with { Flip = "maybe" }).Validate());
        }
        finally { dir.Delete(true); images.Delete(true); }
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
