using System.Buffers.Binary;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Text;
using Crt.Tensors.Kernels.Cpu;

namespace Crt.Data;

/// <summary>
/// A user's own images in the usual class-per-subfolder layout, ROOT/CLASS/**/*.png|jpg|jpeg|webp|bmp|gif
/// (extensions in any case; other files are ignored). Classes are the subfolder names sorted ordinally;
/// a label is the index of its class. Splits are fixed:
/// <list type="bullet">
/// <item>If ROOT has a <c>train/</c> folder, it holds the training classes, and <c>val/</c> (or
///   <c>validation/</c>) and <c>test/</c> beside it, when present, hold those splits (their class folders
///   must be among train/'s).</item>
/// <item>A split without its own folder is carved out of the training images (ROOT/train, or ROOT itself
///   when there is no train/) by a stable hash of each image's path relative to that folder
///   ("CLASS/name.png"): bucket = first 8 bytes of SHA-256(UTF-8 path), big-endian, mod 100;
///   buckets 0–4 (≈5%) are validation, 5–9 (≈5%) test, the rest train. Adding or removing files never
///   moves the others between splits.</item>
/// </list>
/// Every image is converted and resized by <see cref="ImagePreprocess"/> to the options' square size and
/// channel count. Files that cannot be decoded are skipped with one warning line (the count and the
/// first few names); a missing folder, a class folder without images, or a split without readable
/// images is an error naming the path.
/// </summary>
public static class ImageFolder
{
    public const int ValidationPercent = 5, TestPercent = 5;
    /// <summary>How many unreadable files the warning line names.</summary>
    public const int NamedInWarning = 3;

    private static readonly string[] SplitFolders = { "train", "val", "validation", "test" };

    private sealed record Layout(string Pool, string[] Classes, string? ValidationDir, string? TestDir);

    /// <param name="warn">Receives the one warning line about skipped files (default: standard error).</param>
    public static ImageSet Load(string root, Split split, ImageOptions options, Action<string>? warn = null)
    {
        options.Validate();
        var layout = ReadLayout(root);
        var files = Files(root, layout, split);
        string splitName = SplitName(split);
        if (files.Count == 0)
            throw new InvalidDataException(split == Split.Train
                ? $"{layout.Pool}: no training images are left once the validation and test images are carved out"
                : $"{root}: the {splitName} split is empty: about {(split == Split.Validation ? ValidationPercent : TestPercent)}% of the images are carved out for it by a hash of their paths and none was picked; add images, or give the split its own folder ({Path.Combine(root, split == Split.Validation ? "val" : "test")}/CLASS/…, with the training classes under {Path.Combine(root, "train")}/)");
        SkiaLibrary.EnsureAvailable(); // one clear message before any work, not one skipped file per image

        var planes = new byte[files.Count][];
        var errors = new string?[files.Count];
        try
        {
            Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = Par.Threads }, i =>
            {
                try { planes[i] = ImagePreprocess.Apply(ImageFile.Read(files[i].Path), options); }
                catch (InvalidDataException e) { errors[i] = e.Message.ReplaceLineEndings(" "); }
            });
        }
        catch (AggregateException e) { ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw(); }

        var bad = errors.Where(e => e is not null).ToList();
        if (bad.Count == files.Count)
            throw new InvalidDataException($"{root}: none of the {files.Count} images of the {splitName} split could be read (first: {bad[0]})");
        if (bad.Count > 0)
            (warn ?? Console.Error.WriteLine)($"warning: {root}: skipped {bad.Count} of {files.Count} {splitName} images that could not be read: " +
                string.Join("; ", bad.Take(NamedInWarning)) + (bad.Count > NamedInWarning ? "; …" : ""));

        int per = options.Channels * options.Size * options.Size, count = files.Count - bad.Count;
        var pixels = new byte[(long)count * per];
        var labels = new int[count];
        for (int i = 0, j = 0; i < files.Count; i++)
        {
            if (planes[i] is null) continue;
            planes[i].CopyTo(pixels, (long)j * per);
            labels[j++] = files[i].Label;
        }
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(root)));
        return new ImageSet($"{name}-{splitName}", options.Channels, options.Size, options.Size, pixels, labels, layout.Classes);
    }

    /// <summary>Validation (0–4), test (5–9) or train (10–99): the hash bucket of a path relative to the training folder.</summary>
    public static int Bucket(string relativePath)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(relativePath));
        return (int)(BinaryPrimitives.ReadUInt64BigEndian(hash) % 100);
    }

    public static string SplitName(Split split) => split switch { Split.Train => "train", Split.Validation => "validation", _ => "test" };

    private static Layout ReadLayout(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"{root}: image folder not found");
        var subdirs = SortedSubfolders(root);
        var names = subdirs.Select(Path.GetFileName).ToArray();
        bool hasTrain = names.Contains("train");
        string? Find(params string[] candidates)
        {
            var found = candidates.Where(names.Contains).ToArray();
            if (found.Length > 1) throw new InvalidDataException($"{root}: has both {string.Join("/ and ", found)}/; keep one as the validation split");
            return found.Length == 1 ? Path.Combine(root, found[0]) : null;
        }
        var valDir = Find("val", "validation");
        var testDir = Find("test");
        if (!hasTrain && (valDir ?? testDir) is { } lone)
            throw new InvalidDataException($"{root}: has {Path.GetFileName(lone)}/ but no train/ beside it; put the training classes in {Path.Combine(root, "train")}");
        if (hasTrain && names.FirstOrDefault(n => !SplitFolders.Contains(n)) is { } stray)
            throw new InvalidDataException($"{root}: with a train/ folder only val/, validation/ and test/ may sit beside it, not {stray}/ (classes belong under train/)");
        string pool = hasTrain ? Path.Combine(root, "train") : root;
        var classes = SortedSubfolders(pool).Select(d => Path.GetFileName(d)!).ToArray();
        if (classes.Length == 0)
            throw new InvalidDataException($"{pool}: no class folders: an image folder holds one subfolder per class (CLASS/*.png|jpg|…), a data folder MNIST-style IDX files");
        return new Layout(pool, classes, valDir, testDir);
    }

    private static List<(string Path, int Label)> Files(string root, Layout layout, Split split)
    {
        string? own = split switch { Split.Validation => layout.ValidationDir, Split.Test => layout.TestDir, _ => null };
        if (own is not null)
        {
            if (SortedSubfolders(own).Length == 0) throw new InvalidDataException($"{own}: no class folders (CLASS/*.png|jpg|…)");
            return ClassFiles(own, layout).Select(f => (f.Path, f.Label)).ToList();
        }
        var keep = new List<(string, int)>();
        foreach (var (path, rel, label) in ClassFiles(layout.Pool, layout))
        {
            int b = Bucket(rel);
            var s = b < ValidationPercent && layout.ValidationDir is null ? Split.Validation
                : b >= ValidationPercent && b < ValidationPercent + TestPercent && layout.TestDir is null ? Split.Test
                : Split.Train;
            if (s == split) keep.Add((path, label));
        }
        return keep;
    }

    /// <summary>Every image file under DIR/CLASS/ for the layout's classes, sorted by class then by relative path.</summary>
    private static List<(string Path, string Relative, int Label)> ClassFiles(string dir, Layout layout)
    {
        var result = new List<(string, string, int)>();
        foreach (var classDir in SortedSubfolders(dir))
        {
            string cls = Path.GetFileName(classDir)!;
            int label = Array.IndexOf(layout.Classes, cls);
            if (label < 0)
                throw new InvalidDataException($"{classDir}: class '{cls}' is not one of the {layout.Classes.Length} training classes in {layout.Pool}");
            var files = Directory.EnumerateFiles(classDir, "*", SearchOption.AllDirectories)
                .Where(ImageFile.HasImageExtension)
                .Select(f => (Path: f, Relative: Path.GetRelativePath(dir, f).Replace('\\', '/')))
                .OrderBy(f => f.Relative, StringComparer.Ordinal).ToList();
            if (files.Count == 0) throw new InvalidDataException($"{classDir}: class folder holds no {ImageFile.ExtensionList} files");
            result.AddRange(files.Select(f => (f.Path, f.Relative, label)));
        }
        return result;
    }

    private static string[] SortedSubfolders(string dir) =>
        Directory.GetDirectories(dir).Where(d => !Path.GetFileName(d).StartsWith('.')).OrderBy(d => Path.GetFileName(d), StringComparer.Ordinal).ToArray();
}
