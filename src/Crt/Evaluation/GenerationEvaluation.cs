using Crt.Tensors;

namespace Crt.Evaluation;

/// <summary>Fréchet distance, Inception-style score and precision/recall of generated vs real images under a named feature network (<see cref="IFeatureExtractor"/>).</summary>
public sealed record GenerationReport(string FeatureNet, int Generated, int Real, double Fid, double IsMean, double IsStd,
    double Precision, double Recall, double RealIsMean)
{
    /// <summary>FID of the first n generated images, for each n asked for (how FID depends on the sample count).</summary>
    public IReadOnlyDictionary<int, double> FidOfFirst { get; init; } = new Dictionary<int, double>();

    /// <summary>SHA-256 of the feature network's weights file, where the network is one of crt's own (which network, exactly).</summary>
    public string? FeatureNetSha256 { get; init; }

    public Dictionary<string, object?> ToMetrics() => new()
    {
        ["feature_net"] = FeatureNet, ["generated"] = Generated, ["real"] = Real,
        [$"fid_{FeatureNet}"] = Fid, [$"is_{FeatureNet}"] = IsMean, ["is_std"] = IsStd, ["real_is"] = RealIsMean,
        ["precision"] = Precision, ["recall"] = Recall, ["pr_k"] = 3, ["feature_net_sha256"] = FeatureNetSha256,
    };
}

/// <summary>A set of images embedded by <see cref="Net"/>: features [Count, FeatureDim] and class probabilities [Count, NumClasses].</summary>
public sealed record EmbeddedImages(IFeatureExtractor Net, int Count, float[] Features, float[] Probabilities);

public static class GenerationEvaluation
{
    /// <summary>
    /// Metrics of <paramref name="generated"/> against <paramref name="real"/> (both [N, C, H, W] in [−1, 1]) under <paramref name="net"/>;
    /// also the FID of the first n generated images for each n in <paramref name="fidOfFirst"/> (each below the count generated).
    /// </summary>
    public static GenerationReport Compare(IFeatureExtractor net, Tensor real, Tensor generated, int isSplits = 10, IReadOnlyList<int>? fidOfFirst = null) =>
        Compare(Embed(net, real), generated, isSplits, fidOfFirst);

    /// <summary>Images [N, C, H, W] through a feature network once: a real set that many generated sets are compared with.</summary>
    public static EmbeddedImages Embed(IFeatureExtractor net, Tensor images)
    {
        var (features, probabilities) = net.Embed(images);
        return new EmbeddedImages(net, images.Shape[0], features, probabilities);
    }

    /// <summary>As above, against a real set embedded once (a sweep measures every point against the same test images).</summary>
    public static GenerationReport Compare(EmbeddedImages real, Tensor generated, int isSplits = 10, IReadOnlyList<int>? fidOfFirst = null)
    {
        var net = real.Net;
        var (rf, rp) = (real.Features, real.Probabilities);
        var (gf, gp) = net.Embed(generated);
        int nr = real.Count, ng = generated.Shape[0], d = net.FeatureDim, k = net.NumClasses;
        double fid = FrechetDistance.Compute(rf, nr, gf, ng, d);
        var subsets = new Dictionary<int, double>();
        foreach (int n in fidOfFirst ?? [])
        {
            if (n < 2 || n >= ng) throw new ArgumentException($"FID of the first {n} samples: needs 2 ≤ n < {ng}, the samples generated");
            subsets[n] = FrechetDistance.Compute(rf, nr, gf.AsSpan(0, n * d), n, d);
        }
        var (isMean, isStd) = InceptionScore.Compute(gp, ng, k, Math.Min(isSplits, ng));
        var (realIs, _) = InceptionScore.Compute(rp, nr, k, Math.Min(isSplits, nr));
        var (p, r) = PrecisionRecall.Compute(rf, nr, gf, ng, d);
        return new GenerationReport(net.Name, ng, nr, fid, isMean, isStd, p, r, realIs)
        {
            FidOfFirst = subsets, FeatureNetSha256 = (net as TrainedFeatureNet)?.Sha256,
        };
    }
}
