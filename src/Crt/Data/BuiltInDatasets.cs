namespace Crt.Data;

public enum Split { Train, Validation, Test }

/// <summary>
/// The datasets that ship with crt under data/. Fashion-MNIST's splits are fixed: train = the first
/// 55,000 images of the training file, validation = its last 5,000, test = the t10k file.
/// </summary>
public static class BuiltInDatasets
{
    public const string FashionMnist = "fashion-mnist";
    public const int FashionMnistValidationSize = 5000;

    public static readonly string[] FashionMnistClasses =
        { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" };

    /// <summary>
    /// A split of "fashion-mnist" (built in), of a folder holding MNIST-style IDX files (see
    /// <see cref="LoadIdxFolder"/>), or of an image folder (ROOT/CLASS/*.png|jpg|jpeg|webp|bmp|gif, see <see cref="ImageFolder"/>) — the
    /// meaning of every <c>data</c> setting and <c>--data</c> option. <paramref name="images"/> says how an
    /// image folder's files are preprocessed; IDX data keeps its own size and channels.
    /// </summary>
    /// <param name="warn">Receives the warning line about unreadable image files (default: standard error).</param>
    public static ImageSet Load(string data, Split split, ImageOptions? images = null, Action<string>? warn = null)
    {
        if (data == FashionMnist) return LoadFashionMnist(split);
        if (!Directory.Exists(data))
            throw new ArgumentException($"data: '{data}' is neither the built-in '{FashionMnist}' nor a folder (of MNIST-style IDX files, or of images in class subfolders)");
        if (IsIdxFolder(data)) return LoadIdxFolder(data, split);
        if (images is null)
            throw new ArgumentException($"data: {data} is an image folder; reading it needs the image size, channels and resize mode (config keys image_size, channels, resize)");
        return ImageFolder.Load(data, split, images, warn);
    }

    /// <summary>A folder of MNIST-style IDX files (any *-idx*-ubyte* or *.idx*-ubyte* file), as opposed to an image folder.</summary>
    public static bool IsIdxFolder(string directory) =>
        Directory.EnumerateFiles(directory).Any(f => Path.GetFileName(f) is var n && n.Contains("idx", StringComparison.Ordinal) && n.Contains("-ubyte", StringComparison.Ordinal));

    /// <summary>
    /// Whether mirrored images are still images of their class, so random flips are a fair augmentation: yes for
    /// Fashion-MNIST (clothes) and image folders (photos, as ImageNet training assumes); no for other IDX folders,
    /// the MNIST family of digits and letters (a mirrored 2 is not a 2). Runs override it with the flip setting.
    /// </summary>
    public static bool MirrorSafe(string data) => data == FashionMnist || !Directory.Exists(data) || !IsIdxFolder(data);

    public static ImageSet LoadFashionMnist(Split split) => LoadIdxFolder(FindDataDirectory(FashionMnist), split, FashionMnist, FashionMnistClasses);

    /// <summary>
    /// A split of a folder of MNIST-style IDX files: train = the training file minus its last 5,000 images
    /// (validation = those), test = the t10k file. Files are found raw or gzipped, under either naming
    /// (train-images-idx3-ubyte as distributed, train-images.idx3-ubyte as some archives unpack). Classes are
    /// named by a classes.txt beside them (one name per line), else numbered from 0.
    /// </summary>
    public static ImageSet LoadIdxFolder(string directory, Split split, string? name = null, string[]? classNames = null)
    {
        name ??= Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        string prefix = split == Split.Test ? "t10k" : "train";
        var imagesPath = FindIdxFile(directory, prefix, "images", 3);
        var labelsPath = FindIdxFile(directory, prefix, "labels", 1);
        classNames ??= IdxClassNames(directory);
        var images = LoadIdxImages(imagesPath, labelsPath, $"{name}-{prefix}", classNames);
        if (split == Split.Test) return images;
        if (images.Count <= FashionMnistValidationSize)
            throw new InvalidDataException($"{imagesPath}: {images.Count} images leave none for training once the last {FashionMnistValidationSize} are held out for validation");
        int trainCount = images.Count - FashionMnistValidationSize;
        return split == Split.Train
            ? images.Range($"{name}-train", 0, trainCount)
            : images.Range($"{name}-validation", trainCount, FashionMnistValidationSize);
    }

    /// <summary>PREFIX-KIND-idxRANK-ubyte or PREFIX-KIND.idxRANK-ubyte, each raw or .gz, in <paramref name="directory"/>.</summary>
    public static string FindIdxFile(string directory, string prefix, string kind, int rank)
    {
        var names = new[] { $"{prefix}-{kind}-idx{rank}-ubyte", $"{prefix}-{kind}.idx{rank}-ubyte" };
        var candidates = names.SelectMany(n => new[] { n + ".gz", n }).Select(n => Path.Combine(directory, n)).ToArray();
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"{directory}: no {prefix} {kind} IDX file (looked for {string.Join(", ", candidates.Select(Path.GetFileName))})");
    }

    /// <summary>
    /// Class names for an IDX folder: classes.txt (one per line) when present, else "0", "1", … up to the largest
    /// label of its training labels file (the same list for every split, so class ids agree across them).
    /// </summary>
    private static string[] IdxClassNames(string directory)
    {
        var listed = Path.Combine(directory, "classes.txt");
        if (File.Exists(listed))
        {
            var names = File.ReadAllLines(listed).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
            if (names.Length == 0) throw new InvalidDataException($"{listed}: no class names (one per line expected)");
            return names;
        }
        var labels = IdxFile.Read(FindIdxFile(directory, "train", "labels", 1)).Values;
        int count = labels.Length == 0 ? 1 : labels.Max() + 1;
        return Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>An IDX image file ([N, H, W] bytes) with its IDX label file ([N] bytes).</summary>
    public static ImageSet LoadIdxImages(string imagesPath, string labelsPath, string name, string[] classNames)
    {
        var img = IdxFile.Read(imagesPath);
        var lab = IdxFile.Read(labelsPath);
        if (img.Dims.Length != 3) throw new InvalidDataException($"{imagesPath}: expected [N, H, W] images, the file has dimensions [{string.Join(",", img.Dims)}]");
        if (lab.Dims.Length != 1) throw new InvalidDataException($"{labelsPath}: expected [N] labels, the file has dimensions [{string.Join(",", lab.Dims)}]");
        if (lab.Dims[0] != img.Dims[0]) throw new InvalidDataException($"{labelsPath}: {lab.Dims[0]} labels for the {img.Dims[0]} images of {imagesPath}");
        var labels = new int[lab.Values.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = lab.Values[i];
            if (labels[i] >= classNames.Length) throw new InvalidDataException($"{labelsPath}: label {labels[i]} at index {i} is outside the {classNames.Length} classes");
        }
        return new ImageSet(name, 1, img.Dims[1], img.Dims[2], img.Values, labels, classNames);
    }

    /// <summary>
    /// data/NAME under $CRT_DATA, or under the first ancestor of the working directory or of the
    /// program's directory that has it (so it works from the repository and from build outputs).
    /// </summary>
    public static string FindDataDirectory(string name)
    {
        var env = Environment.GetEnvironmentVariable("CRT_DATA");
        if (!string.IsNullOrEmpty(env))
        {
            var p = Path.Combine(env, name);
            if (Directory.Exists(p)) return p;
            throw new DirectoryNotFoundException($"{p}: dataset '{name}' not found under $CRT_DATA ({env})");
        }
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var p = Path.Combine(d.FullName, "data", name);
                if (Directory.Exists(p)) return p;
            }
        throw new DirectoryNotFoundException($"dataset '{name}' not found: looked for data/{name} above {Directory.GetCurrentDirectory()} and {AppContext.BaseDirectory}; set CRT_DATA to the folder that holds it");
    }
}
