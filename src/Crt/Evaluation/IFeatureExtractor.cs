using System.Globalization;
using Crt.Tensors;

namespace Crt.Evaluation;

/// <summary>
/// A network that generation metrics look through: features for the Fréchet distance and
/// precision/recall, class probabilities for the Inception-style score. Every reported number carries
/// its <see cref="Name"/> (spec §5), since numbers under different networks do not compare.
/// Implemented by the in-project feature net (<see cref="TrainedFeatureNet"/>, "fmnist-cnn-v1-…") and
/// by <see cref="InceptionV3Fid"/> ("inception-v3-fid").
/// </summary>
public interface IFeatureExtractor
{
    string Name { get; }
    int FeatureDim { get; }
    int NumClasses { get; }

    /// <summary>Features [N·FeatureDim] and class probabilities [N·NumClasses] (row-major) of images [N, C, H, W] in [−1, 1].</summary>
    (float[] Features, float[] Probs) Embed(Tensor images);
}

/// <summary>The batching every <see cref="IFeatureExtractor.Embed"/> shares: no gradients, one tensor scope per batch.</summary>
public static class FeatureBatches
{
    /// <param name="forward">Features [b, featureDim] and probabilities [b, classes] of one batch.</param>
    /// <param name="progress">Told "embedded i/N images" about every 10% of the way when given.</param>
    /// <param name="device">Where the network's weights are: each host batch is copied there and its results back.</param>
    public static (float[] Features, float[] Probs) Embed(Tensor images, int batchSize, int featureDim, int classes,
        Func<Tensor, (Tensor Features, Tensor Probs)> forward, Action<string>? progress = null, Device? device = null)
    {
        if (images.Rank != 4) throw new ArgumentException($"feature extraction: expected images [N, C, H, W], got {ShapeUtil.Format(images.Shape)}");
        int n = images.Shape[0], per = n == 0 ? 0 : images.Size / n;
        var feats = new float[(long)n * featureDim];
        var probs = new float[(long)n * classes];
        int reportEvery = Math.Max(batchSize, (n / 10 + batchSize - 1) / batchSize * batchSize);
        using var noGrad = Tensor.NoGrad();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int start = 0; start < n; start += batchSize)
        {
            using var scope = TensorScope.Begin();
            int b = Math.Min(batchSize, n - start);
            var x = Tensor.From(images.ReadOnlySpan.Slice(start * per, b * per), b, images.Shape[1], images.Shape[2], images.Shape[3]);
            var (f, p) = forward(x.To(device ?? Device.Cpu));
            if (f.Size != b * featureDim || p.Size != b * classes)
                throw new InvalidOperationException($"feature extraction: a batch of {b} gave {f.Size} features and {p.Size} probabilities, not {b}×{featureDim} and {b}×{classes}");
            f.CopyTo(feats.AsSpan(start * featureDim, b * featureDim));
            p.CopyTo(probs.AsSpan(start * classes, b * classes));
            int done = start + b;
            if (progress is not null && (done % reportEvery == 0 || done == n))
                progress(string.Create(CultureInfo.InvariantCulture, $"  embedded {done}/{n} images ({done / clock.Elapsed.TotalSeconds:F1} images/s)"));
        }
        return (feats, probs);
    }
}
