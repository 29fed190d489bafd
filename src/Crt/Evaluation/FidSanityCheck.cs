using System.Globalization;
using Crt.Tensors;

namespace Crt.Evaluation;

/// <summary>One line of <see cref="FidSanityCheck"/>: what was compared and its Fréchet distance under the named network.</summary>
public sealed record FidSanityRow(string Comparison, double Fid);

/// <summary>
/// Does a feature network's Fréchet distance behave? FID between a reference set and another sample of
/// the same distribution (the floor that finite samples leave) and between the reference and itself
/// blurred or noised at growing strength, which should rise step by step above that floor.
/// </summary>
public static class FidSanityCheck
{
    public static readonly double[] BlurSigmas = { 0.5, 1, 1.5, 2 };
    /// <summary>In pixel units of [−1, 1] (0.1 is 5% of the range).</summary>
    public static readonly double[] NoiseSigmas = { 0.05, 0.1, 0.2, 0.4 };

    /// <param name="reference">Images [N, C, H, W] in [−1, 1] (e.g. the test split).</param>
    /// <param name="sameDistribution">Another sample of the reference's distribution (e.g. train images), or null to skip that row.</param>
    /// <param name="sameLabel">That row's name (e.g. the split's).</param>
    public static List<FidSanityRow> Run(IFeatureExtractor net, Tensor reference, Tensor? sameDistribution, string sameLabel = "other images",
        ulong seed = 0, Action<string>? log = null)
    {
        int n = reference.Shape[0], d = net.FeatureDim;
        var (refFeatures, _) = net.Embed(reference);
        var refStats = FeatureStatistics.Of(refFeatures, n, d);
        double Fid(Tensor other)
        {
            var (f, _) = net.Embed(other);
            int m = other.Shape[0];
            // Below half the dimensions the set-based route is both exact and fast (FrechetDistance.Compute).
            return 2L * Math.Min(n, m) <= d ? FrechetDistance.Compute(refFeatures, n, f, m, d) : FrechetDistance.Compute(refStats, FeatureStatistics.Of(f, m, d));
        }
        var rows = new List<FidSanityRow>();
        void Add(string what, double fid)
        {
            rows.Add(new FidSanityRow(what, fid));
            log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"  {what,-28} FID {fid:F3}"));
        }
        if (sameDistribution is not null) Add(sameLabel, Fid(sameDistribution));
        foreach (var s in BlurSigmas) Add(string.Create(CultureInfo.InvariantCulture, $"blur sigma {s}"), Fid(ImageDegradations.GaussianBlur(reference, s)));
        var rng = new Rng(seed);
        foreach (var s in NoiseSigmas) Add(string.Create(CultureInfo.InvariantCulture, $"noise sigma {s}"), Fid(ImageDegradations.GaussianNoise(reference, s, rng)));
        return rows;
    }
}
