using Crt.Tensors;

namespace Crt.Evaluation;

/// <summary>Fréchet distance, Inception-style score and precision/recall of generated vs real images under a named feature network.</summary>
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
    /// <summary>Penultimate features [N, 128] and class probabilities [N, K] of images [N, C, S, S] in [−1, 1].</summary>
    public static (float[] Features, float[] Probs) Embed(FeatureNet net, Tensor images, int batchSize = 500)
    {
        int n = images.Shape[0], per = images.Size / Math.Max(1, n);
        var feats = new float[n * FeatureNet.FeatureDim];
        var probs = new float[n * net.NumClasses];
        using var noGrad = Tensor.NoGrad();
        for (int start = 0; start < n; start += batchSize)
        {
            using var scope = TensorScope.Begin();
            int b = Math.Min(batchSize, n - start);
            var x = Tensor.From(images.ReadOnlySpan.Slice(start * per, b * per), b, images.Shape[1], images.Shape[2], images.Shape[3]);
            var f = net.Features(x);
            f.ReadOnlySpan.CopyTo(feats.AsSpan(start * FeatureNet.FeatureDim));
            Ops.Softmax(net.Head.Forward(f), -1).ReadOnlySpan.CopyTo(probs.AsSpan(start * net.NumClasses));
        }
        return (feats, probs);
    }

    public static GenerationReport Compare(TrainedFeatureNet fn, Tensor real, Tensor generated, int isSplits = 10)
    {
        var (rf, rp) = Embed(fn.Net, real);
        var (gf, gp) = Embed(fn.Net, generated);
        int nr = real.Shape[0], ng = generated.Shape[0], d = FeatureNet.FeatureDim, k = fn.Net.NumClasses;
        double fid = FrechetDistance.Compute(FeatureStatistics.Of(rf, nr, d), FeatureStatistics.Of(gf, ng, d));
        var (isMean, isStd) = InceptionScore.Compute(gp, ng, k, Math.Min(isSplits, ng));
        var (realIs, _) = InceptionScore.Compute(rp, nr, k, Math.Min(isSplits, nr));
        var (p, r) = PrecisionRecall.Compute(rf, nr, gf, ng, d);
        return new GenerationReport(fn.Name, ng, nr, fid, isMean, isStd, p, r, realIs);
    }
}
