using Crt.Tensors;

namespace Crt.Evaluation;

/// <summary>Fréchet distance, Inception-style score and precision/recall of generated vs real images under a named feature network (<see cref="IFeatureExtractor"/>).</summary>
public sealed record GenerationReport(string FeatureNet, int Generated, int Real, double Fid, double IsMean, double IsStd,
    double Precision, double Recall, double RealIsMean)
{
    public Dictionary<string, object?> ToMetrics() => new()
    {
        ["feature_net"] = FeatureNet, ["generated"] = Generated, ["real"] = Real,
        [$"fid_{FeatureNet}"] = Fid, [$"is_{FeatureNet}"] = IsMean, ["is_std"] = IsStd, ["real_is"] = RealIsMean,
        ["precision"] = Precision, ["recall"] = Recall, ["pr_k"] = 3,
    };
}

public static class GenerationEvaluation
{
    /// <summary>Metrics of <paramref name="generated"/> against <paramref name="real"/> (both [N, C, H, W] in [−1, 1]) under <paramref name="net"/>.</summary>
    public static GenerationReport Compare(IFeatureExtractor net, Tensor real, Tensor generated, int isSplits = 10)
    {
        var (rf, rp) = net.Embed(real);
        var (gf, gp) = net.Embed(generated);
        int nr = real.Shape[0], ng = generated.Shape[0], d = net.FeatureDim, k = net.NumClasses;
        double fid = FrechetDistance.Compute(rf, nr, gf, ng, d);
        var (isMean, isStd) = InceptionScore.Compute(gp, ng, k, Math.Min(isSplits, ng));
        var (realIs, _) = InceptionScore.Compute(rp, nr, k, Math.Min(isSplits, nr));
        var (p, r) = PrecisionRecall.Compute(rf, nr, gf, ng, d);
        return new GenerationReport(net.Name, ng, nr, fid, isMean, isStd, p, r, realIs);
    }
}
