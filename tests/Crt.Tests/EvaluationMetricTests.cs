using Crt.Evaluation;
using Crt.Tensors;
using Crt.Tensors.IO;
using Xunit;

namespace Crt.Tests;

public class EvaluationMetricTests
{
    private static Dictionary<string, Tensor> Fixture() => SafeTensors.Load(TestData.File("parity/eval_metrics.safetensors"));

    private static void Close(float[] expected, double[] actual, double tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], tolerance: tol);
    }

    [Fact]
    public void PsnrAndSsimMatchSkimage()
    {
        var f = Fixture();
        var gx = f["gray_x"].ToArray(); var gy = f["gray_y"].ToArray();
        Close(f["gray_ssim"].ToArray(), ReconstructionMetrics.Ssim(gx, gy, 3, 1, 32, 32, 2.0), 1e-6);
        Close(f["gray_psnr"].ToArray(), ReconstructionMetrics.Psnr(gx, gy, 3, 1, 32, 32, 2.0), 1e-4);
        Close(f["rgb_ssim"].ToArray(), ReconstructionMetrics.Ssim(f["rgb_x"].ToArray(), f["rgb_y"].ToArray(), 2, 3, 20, 25, 2.0), 1e-6);
        Assert.Equal(1.0, ReconstructionMetrics.Ssim(gx, gx, 3, 1, 32, 32, 2.0)[0], 12);
        Assert.True(double.IsPositiveInfinity(ReconstructionMetrics.Psnr(gx, gx, 3, 1, 32, 32, 2.0)[0]));
    }

    [Fact]
    public void MsSsimMatchesPyTorchAndRefusesSmallImages()
    {
        var f = Fixture();
        var (values, why) = ReconstructionMetrics.MsSsim(f["big_x"].ToArray(), f["big_y"].ToArray(), 1, 1, 163, 170, 2.0);
        Assert.Null(why);
        Close(f["big_ms_ssim"].ToArray(), values!, 1e-6);
        var small = f["gray_x"].ToArray();
        var (none, reason) = ReconstructionMetrics.MsSsim(small, small, 3, 1, 32, 32, 2.0);
        Assert.Null(none);
        Assert.Contains("at least 161×161", reason);
    }

    [Fact]
    public void FrechetDistanceMatchesPytorchFidAndClosedForms()
    {
        var f = Fixture();
        var a = FeatureStatistics.Of(f["fid_a"].ToArray(), 50, 8);
        var b = FeatureStatistics.Of(f["fid_b"].ToArray(), 60, 8);
        Assert.Equal(f["fid"].Item(), FrechetDistance.Compute(a, b), tolerance: 1e-4);
        Assert.Equal(0.0, FrechetDistance.Compute(a, a), tolerance: 1e-6);

        // Two Gaussians with known moments: N(0, diag(1, 4)) vs N((3, 0), diag(4, 1)).
        // FD = 9 + (1 + 4 + 4 + 1) − 2·(√4 + √4) = 11.
        var mb = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build;
        var g1 = new FeatureStatistics(new[] { 0.0, 0.0 }, mb.DenseOfDiagonalArray(new[] { 1.0, 4.0 }), 100);
        var g2 = new FeatureStatistics(new[] { 3.0, 0.0 }, mb.DenseOfDiagonalArray(new[] { 4.0, 1.0 }), 100);
        Assert.Equal(11.0, FrechetDistance.Compute(g1, g2), 10);
        Assert.Throws<ArgumentException>(() => FrechetDistance.Compute(a, g1));
    }

    /// <summary>
    /// The low-rank route (fewer vectors than half the dimensions) against the d×d one. They differ by
    /// ~1e-8 relative, and that is the d×d route's error: its rank-deficient covariances leave eigenvalues
    /// of ±1e-15 whose clamped square roots add ~1e-7 each (checked with mpmath at 40 digits on such a
    /// case: d×d route off by 1e-6, low-rank route by 3e-15).
    /// </summary>
    [Theory]
    [InlineData(9, 14, 40)]
    [InlineData(20, 6, 40)]
    [InlineData(15, 15, 30)]
    public void FrechetDistanceFromFewVectorsEqualsTheCovarianceForm(int na, int nb, int d)
    {
        var rng = new Crt.Tensors.Rng(11);
        var a = rng.Normal(new[] { na, d }).ToArray();
        var b = rng.Normal(new[] { nb, d }, 0.3f, 1.5f).ToArray();
        double full = FrechetDistance.Compute(FeatureStatistics.Of(a, na, d), FeatureStatistics.Of(b, nb, d));
        Assert.True(2 * Math.Min(na, nb) <= d); // the set-based overload takes the low-rank route
        Assert.Equal(full, FrechetDistance.Compute(a, na, b, nb, d), tolerance: 1e-7 * full);
        Assert.Equal(0.0, FrechetDistance.Compute(a, na, a, na, d), tolerance: 1e-12 * full);
    }

    [Fact]
    public void InceptionScoreMatchesTheOriginalFormulaAndEqualsKForUniformOneHots()
    {
        var f = Fixture();
        var (mean, std) = InceptionScore.Compute(f["is_probs"].ToArray(), 40, 10, splits: 4);
        var expected = f["is_mean_std"].ToArray();
        Assert.Equal(expected[0], mean, tolerance: 1e-5);
        Assert.Equal(expected[1], std, tolerance: 1e-5);

        const int k = 7;
        var oneHot = new float[5 * k * k];
        for (int i = 0; i < 5 * k; i++) oneHot[i * k + i % k] = 1f;
        var (uniformScore, spread) = InceptionScore.Compute(oneHot, 5 * k, k, splits: 5);
        Assert.Equal(k, uniformScore, 10);
        Assert.Equal(0, spread, 10);
    }

    [Fact]
    public void PrecisionRecallMatchesBruteForceAndItsLimits()
    {
        var f = Fixture();
        var real = f["pr_real"].ToArray(); var fake = f["pr_fake"].ToArray();
        var (p, r) = PrecisionRecall.Compute(real, 70, fake, 55, 5);
        var expected = f["pr"].ToArray();
        Assert.Equal(expected[0], p, 6);
        Assert.Equal(expected[1], r, 6);
        Assert.Equal((1.0, 1.0), PrecisionRecall.Compute(real, 70, real, 70, 5));
        var far = fake.Select(v => v + 1000f).ToArray();
        Assert.Equal((0.0, 0.0), PrecisionRecall.Compute(real, 70, far, 55, 5));
    }

    /// <summary>The one-pass k-th smallest that the neighbour radii use is the value a full sort puts at index k: with ties, zeros, NaNs.</summary>
    [Fact]
    public void KthSmallestIsWhatASortPutsAtIndexK()
    {
        var r = new Random(5);
        foreach (int n in new[] { 4, 5, 9, 100, 1000 })
            foreach (int k in new[] { 0, 1, 3 })
                for (int trial = 0; trial < 20; trial++)
                {
                    var values = Enumerable.Range(0, n).Select(_ => (float)Math.Round(r.NextDouble() * 20) / 4).ToArray(); // many ties
                    if (trial % 5 == 0) values[r.Next(n)] = 0f;
                    if (trial == 7) values[r.Next(n)] = float.NaN;
                    var sorted = values.ToArray();
                    Array.Sort(sorted);
                    Assert.Equal(sorted[k], PrecisionRecall.KthSmallest(values, k, new float[k + 1]));
                }
    }

    [Fact]
    public void CodebookStatsCountUsageEntropyAndPerPositionEntropy()
    {
        // 4 images × 2 positions, K = 8: position 0 always code 1, position 1 uses codes 0,1,2,3.
        int[] codes = { 1, 0, 1, 1, 1, 2, 1, 3 };
        var s = CodebookStats.Of(codes, 4, 2, 8);
        Assert.Equal(4, s.UsedCodes);
        Assert.Equal(0.5, s.Usage);
        // unigram: code 1 five times, 0/2/3 once each out of 8
        double h = -(5 / 8.0 * Math.Log2(5 / 8.0) + 3 * (1 / 8.0) * Math.Log2(1 / 8.0));
        Assert.Equal(h, s.EntropyBits, 12);
        Assert.Equal(Math.Pow(2, h), s.Perplexity, 12);
        Assert.Equal(new[] { 0.0, 2.0 }, s.PerPositionEntropyBits);
        Assert.Throws<ArgumentOutOfRangeException>(() => CodebookStats.Of(new[] { 8, 0 }, 1, 2, 8));
    }
}
