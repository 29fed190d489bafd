using System.Text.Json.Nodes;
using Crt.Cli;
using Crt.Data;
using Crt.Training;
using Xunit;

namespace Crt.Tests;

public sealed class ImageFolderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-images-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A w×h gray PNG filled with <paramref name="value"/>: after any resize it is still that value, so it identifies the file.</summary>
    internal static void UniformPng(string path, byte value, int w = 12, int h = 9)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        PngWriter.Write(path, Enumerable.Repeat(value, w * h).ToArray(), w, h, 1);
    }

    private static void Copy(string fixture, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Copy(Path.Combine(ImageFixtures.Dir, fixture), path);
    }

    /// <summary>A file name in CLASS/ whose hash bucket puts it in the training split (so the test knows where it lands).</summary>
    private static string TrainName(string cls, string stem, string ext)
    {
        for (int i = 0; ; i++)
            if (ImageFolder.Bucket($"{cls}/{stem}{i}{ext}") >= ImageFolder.ValidationPercent + ImageFolder.TestPercent) return $"{stem}{i}{ext}";
    }

    [Fact]
    public void ReadsClassFoldersSkipsUnreadableFilesWithOneWarningAndSplitsByPathHash()
    {
        var root = Path.Combine(_dir, "pets");
        string[] classes = { "Zebra", "cat", "dog" }; // ordinal order: uppercase sorts first
        var value = new Dictionary<byte, (int Label, string Rel)>();
        var all = new List<string>();
        for (int c = 0; c < classes.Length; c++)
            for (int i = 0; i < 40; i++)
            {
                string rel = i == 39 ? $"{classes[c]}/nested/deep.png" : $"{classes[c]}/{classes[c]}{i:D2}.png";
                byte v = (byte)(c * 60 + i + 10);
                UniformPng(Path.Combine(root, rel), v, w: 10 + i % 5, h: 9);
                value[v] = (c, rel);
                all.Add(rel);
            }
        Copy("jpeg/rgb.jpg", Path.Combine(root, "dog", "photo.jpg"));
        Copy("jpeg/gray.jpg", Path.Combine(root, "dog", "PHOTO2.JPEG")); // extensions in any case
        Copy("webp/lossy_rgb.webp", Path.Combine(root, "dog", "pic.webp"));
        Copy("bmp/p8.bmp", Path.Combine(root, "cat", "pic.BMP"));
        Copy("gif/animated.gif", Path.Combine(root, "Zebra", "anim.gif"));
        all.AddRange(new[] { "dog/photo.jpg", "dog/PHOTO2.JPEG", "dog/pic.webp", "cat/pic.BMP", "Zebra/anim.gif" });
        File.WriteAllText(Path.Combine(root, "cat", "notes.txt"), "not an image, ignored");
        File.WriteAllText(Path.Combine(root, "README.md"), "ignored");
        var truncated = Path.Combine(root, "dog", TrainName("dog", "broken", ".png"));
        File.WriteAllBytes(truncated, File.ReadAllBytes(Path.Combine(ImageFixtures.Dir, "png", "rgb8.png"))[..60]);
        var garbage = Path.Combine(root, "cat", TrainName("cat", "garbage", ".jpg"));
        File.WriteAllText(garbage, "not a jpeg at all");

        var options = new ImageOptions(8, 1, ResizeMode.Area);
        var warnings = new List<string>();
        var sets = new[] { Split.Train, Split.Validation, Split.Test }.ToDictionary(s => s, s => ImageFolder.Load(root, s, options, warnings.Add));

        // Splits: the documented hash rule, disjoint, together every readable file.
        static Split SplitOf(string rel) => ImageFolder.Bucket(rel) switch { < 5 => Split.Validation, < 10 => Split.Test, _ => Split.Train };
        int Expected(Split s) => all.Count(rel => SplitOf(rel) == s);
        foreach (var (split, set) in sets)
        {
            Assert.Equal(Expected(split), set.Count);
            Assert.Equal(classes, set.ClassNames);
            Assert.Equal((1, 8, 8), (set.Channels, set.Height, set.Width));
            Assert.Equal(set.Labels.Order().ToArray(), set.Labels); // sorted by class
            int identified = 0;
            for (int i = 0; i < set.Count; i++)
            {
                byte v = set.Pixels[i * 64];
                if (value.TryGetValue(v, out var file) && set.Pixels.AsSpan(i * 64, 64).IndexOfAnyExcept(v) < 0)
                {
                    Assert.Equal(file.Label, set.Labels[i]);
                    Assert.Equal(split, SplitOf(file.Rel));
                    identified++;
                }
            }
            Assert.Equal(all.Count(rel => rel.EndsWith(".png") && SplitOf(rel) == split), identified); // every PNG found, in its place
        }
        Assert.InRange(sets[Split.Validation].Count + sets[Split.Test].Count, 1, all.Count / 4); // about 10% of 122
        Assert.Equal("pets-train", sets[Split.Train].Name);

        // The two unreadable files: one warning line, with the count and both names; other splits have none.
        var line = Assert.Single(warnings);
        Assert.StartsWith($"warning: {root}: skipped 2 of {Expected(Split.Train) + 2} train images that could not be read: ", line);
        Assert.Contains(truncated, line);
        Assert.Contains(garbage, line);
        Assert.DoesNotContain("\n", line);

        // Three channels: a gray file (the first training image is Zebra's first PNG) is repeated in each plane.
        var rgb = ImageFolder.Load(root, Split.Train, options with { Channels = 3 }, _ => { });
        Assert.Equal(3, rgb.Channels);
        Assert.Equal(sets[Split.Train].Labels, rgb.Labels);
        Assert.Equal(sets[Split.Train].Pixels[..64], rgb.Pixels[..64]);
        Assert.Equal(rgb.Pixels[..64], rgb.Pixels[128..192]);
    }

    [Fact]
    public void SplitFoldersAreUsedAndAMissingOneIsCarvedFromTrain()
    {
        var root = Path.Combine(_dir, "explicit");
        for (int i = 0; i < 30; i++)
        {
            UniformPng(Path.Combine(root, "train", "a", $"a{i}.png"), (byte)i);
            UniformPng(Path.Combine(root, "train", "b", $"b{i}.png"), (byte)(100 + i));
        }
        UniformPng(Path.Combine(root, "val", "b", "v0.png"), 250);
        UniformPng(Path.Combine(root, "val", "b", "v1.png"), 251);
        var options = new ImageOptions(4, 1, ResizeMode.Bicubic);

        var val = ImageFolder.Load(root, Split.Validation, options);
        Assert.Equal(new[] { 1, 1 }, val.Labels); // val/b is class 1 of train/'s classes
        Assert.Equal(new[] { "a", "b" }, val.ClassNames);
        Assert.Equal(new byte[] { 250, 251 }, new[] { val.Pixels[0], val.Pixels[16] });

        // No test/ folder: test images come out of train/ by the hash (buckets 5–9); val/ exists, so buckets 0–4 stay in train.
        var rels = Enumerable.Range(0, 30).SelectMany(i => new[] { $"a/a{i}.png", $"b/b{i}.png" }).ToList();
        int test = rels.Count(r => ImageFolder.Bucket(r) is >= 5 and < 10);
        Assert.Equal(test, ImageFolder.Load(root, Split.Test, options).Count);
        Assert.Equal(60 - test, ImageFolder.Load(root, Split.Train, options).Count);

        Directory.CreateDirectory(Path.Combine(root, "validation"));
        Assert.Equal($"{root}: has both val/ and validation/; keep one as the validation split",
            Assert.Throws<InvalidDataException>(() => ImageFolder.Load(root, Split.Train, options)).Message);
    }

    [Fact]
    public void BadFoldersAreOneErrorNamingThePath()
    {
        var options = new ImageOptions(8, 3);
        string Error(string root, Split split = Split.Train)
        {
            var e = Record.Exception(() => ImageFolder.Load(root, split, options, _ => { }));
            Assert.True(e is InvalidDataException or DirectoryNotFoundException, $"{e?.GetType().Name}: {e?.Message}"); // both end as one line in crt
            return e!.Message;
        }

        var missing = Path.Combine(_dir, "missing");
        Assert.Equal($"{missing}: image folder not found", Error(missing));

        var noClasses = Path.Combine(_dir, "flat");
        UniformPng(Path.Combine(noClasses, "loose.png"), 1);
        Assert.StartsWith($"{noClasses}: no class folders", Error(noClasses));

        var emptyClass = Path.Combine(_dir, "empty-class");
        UniformPng(Path.Combine(emptyClass, "a", "x.png"), 1);
        Directory.CreateDirectory(Path.Combine(emptyClass, "b"));
        File.WriteAllText(Path.Combine(emptyClass, "b", "x.txt"), "");
        Assert.Equal($"{Path.Combine(emptyClass, "b")}: class folder holds no .png, .jpg, .jpeg, .webp, .bmp or .gif files", Error(emptyClass));

        var allBad = Path.Combine(_dir, "all-bad");
        for (int i = 0; i < 3; i++) File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(allBad, "a")).FullName, TrainName("a", $"bad{i}-", ".png")), "x");
        Assert.StartsWith($"{allBad}: none of the 3 images of the train split could be read (first: {Path.Combine(allBad, "a")}", Error(allBad));

        var strayClass = Path.Combine(_dir, "stray-class");
        UniformPng(Path.Combine(strayClass, "train", "a", "x.png"), 1);
        UniformPng(Path.Combine(strayClass, "test", "z", "y.png"), 1);
        Assert.Equal($"{Path.Combine(strayClass, "test", "z")}: class 'z' is not one of the 1 training classes in {Path.Combine(strayClass, "train")}",
            Error(strayClass, Split.Test));

        var noTrain = Path.Combine(_dir, "no-train");
        UniformPng(Path.Combine(noTrain, "test", "a", "x.png"), 1);
        Assert.StartsWith($"{noTrain}: has test/ but no train/ beside it", Error(noTrain));

        var besideTrain = Path.Combine(_dir, "beside-train");
        UniformPng(Path.Combine(besideTrain, "train", "a", "x.png"), 1);
        UniformPng(Path.Combine(besideTrain, "cats", "y.png"), 1);
        Assert.StartsWith($"{besideTrain}: with a train/ folder only val/, validation/ and test/ may sit beside it, not cats/", Error(besideTrain));

        var tiny = Path.Combine(_dir, "tiny"); // one image: its hash puts it in train, so validation is empty
        UniformPng(Path.Combine(tiny, "a", TrainName("a", "only", ".png")), 1);
        Assert.StartsWith($"{tiny}: the validation split is empty", Error(tiny, Split.Validation));
    }

    [Fact]
    public void TheDataResolverAndTheConfigKeysReachTheImageFolder()
    {
        var root = Path.Combine(_dir, "resolved");
        for (int i = 0; i < 25; i++) UniformPng(Path.Combine(root, i % 2 == 0 ? "even" : "odd", $"{i}.png"), (byte)i, 40, 30);

        // Defaults follow the model: vq-tiny takes 1×32×32 and pads by 2, so images are 28×28 gray, center-cropped.
        var defaults = TokenizerTrainConfig.ForPreset("vq-tiny");
        Assert.Equal(new ImageOptions(28, 1, ResizeMode.CenterCrop), defaults.Images());
        var set = BuiltInDatasets.Load(root, Split.Train, defaults.Images());
        Assert.Equal((1, 28, 28, 2), (set.Channels, set.Height, set.Width, set.NumClasses));

        var cfg = ConfigResolver.Resolve(defaults, null, new[] { "image_size=16", "channels=3", "resize=area" });
        Assert.Equal(new ImageOptions(16, 3, ResizeMode.Area), cfg.Images());
        Assert.Equal((3, 16), (BuiltInDatasets.Load(root, Split.Train, cfg.Images()).Channels, BuiltInDatasets.Load(root, Split.Train, cfg.Images()).Height));

        var json = JsonNode.Parse(ConfigResolver.ToJson(cfg))!;
        Assert.Equal((16, 3, "area"), ((int)json["image_size"]!, (int)json["channels"]!, (string)json["resize"]!));

        Assert.Contains("image_size, channels, resize", Assert.Throws<ArgumentException>(() => BuiltInDatasets.Load(root, Split.Train)).Message);
        var bad = ConfigResolver.Resolve(defaults, null, new[] { "resize=nearest" });
        Assert.Equal("resize 'nearest' is not a resize mode; valid modes: center-crop, area, bicubic", Assert.Throws<ArgumentException>(bad.Validate).Message);
        Assert.Equal("channels 2 must be 1 (gray) or 3 (RGB)",
            Assert.Throws<ArgumentException>(ConfigResolver.Resolve(defaults, null, new[] { "channels=2" }).Validate).Message);
        var unknown = Assert.Throws<ArgumentException>(() => ConfigResolver.Resolve(defaults, null, new[] { "image_sise=3" })).Message;
        Assert.Contains("image_size", unknown);
    }
}

/// <summary>The commands on an image folder: a tokenizer trains on it, and tokenize reads it back through the run's recorded config.</summary>
[Collection("console")]
public sealed class ImageFolderCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-images-cli-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TokenizerTrainAndTokenizeUseTheFolderAndTheRecordedPreprocessing()
    {
        var root = Path.Combine(_dir, "shapes");
        var rng = new Crt.Tensors.Rng(5);
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < 30; i++)
            {
                var px = Enumerable.Range(0, 48 * 40 * 3).Select(_ => (byte)(c * 120 + rng.NextInt(100))).ToArray();
                var path = Path.Combine(root, c == 0 ? "dark" : "light", $"{i}.png");
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                PngWriter.Write(path, px, 48, 40, 3);
            }
        var run = Path.Combine(_dir, "run");
        var err = new StringWriter();
        var oldErr = Console.Error;
        Console.SetError(err);
        try
        {
            Assert.Equal(0, Program.Main(new[] { "tokenizer", "train", "--data", root, "--out", run, "--steps", "2", "--quiet",
                "--set", "pad=0", "--set", "batch_size=4", "--set", "val_images=4", "--set", "resize=bicubic" }));
            var tokens = Path.Combine(_dir, "train.tokens");
            Assert.Equal(0, Program.Main(new[] { "tokenize", "--tokenizer", run, "--split", "train", "--variants", "original", "--out", tokens, "--quiet" }));
            var store = TokenStore.Read(tokens);
            int train = Enumerable.Range(0, 2).SelectMany(c => Enumerable.Range(0, 30).Select(i => $"{(c == 0 ? "dark" : "light")}/{i}.png"))
                .Count(r => ImageFolder.Bucket(r) >= 10);
            Assert.Equal((train, 2, 64), (store.Header.Count, store.Header.NumClasses, store.Header.TokensPerImage));
        }
        finally { Console.SetError(oldErr); }
        Assert.Equal("", err.ToString());
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!;
        Assert.Equal((Path.GetFullPath(root), "bicubic", 0), ((string)config["data"]!, (string)config["resize"]!, (int)config["pad"]!));
    }
}
