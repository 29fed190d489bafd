using MathNet.Numerics.LinearAlgebra;

namespace Crt.Evaluation;

/// <summary>Mean and unbiased covariance (float64) of a set of feature vectors, the sufficient statistics of FID.</summary>
public sealed record FeatureStatistics(double[] Mean, Matrix<double> Covariance, int Count)
{
    public int Dimension => Mean.Length;

    /// <summary>Statistics of <paramref name="n"/> row vectors of length <paramref name="d"/> (row-major), as numpy's mean and cov(rowvar=False).</summary>
    public static FeatureStatistics Of(ReadOnlySpan<float> features, int n, int d)
    {
        var (mean, centered) = Center(features, n, d);
        var cov = centered.TransposeThisAndMultiply(centered);
        cov.Divide(n - 1, cov);
        return new FeatureStatistics(mean, cov, n);
    }

    /// <summary>The mean and the centred vectors [n, d] in float64.</summary>
    internal static (double[] Mean, Matrix<double> Centered) Center(ReadOnlySpan<float> features, int n, int d)
    {
        if (n < 2) throw new ArgumentException($"feature statistics need at least 2 vectors, got {n}");
        if (features.Length != (long)n * d) throw new ArgumentException($"feature statistics: {features.Length} values are not {n} vectors of {d}");
        var mean = new double[d];
        for (int i = 0; i < n; i++)
        {
            var row = features.Slice(i * d, d);
            for (int j = 0; j < d; j++) mean[j] += row[j];
        }
        for (int j = 0; j < d; j++) mean[j] /= n;
        var centered = Matrix<double>.Build.Dense(n, d);
        for (int i = 0; i < n; i++)
        {
            var row = features.Slice(i * d, d);
            for (int j = 0; j < d; j++) centered[i, j] = row[j] - mean[j];
        }
        return (mean, centered);
    }
}

/// <summary>
/// Fréchet distance between two Gaussians, ‖μ₁−μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½), in float64.
/// Tr((Σ₁Σ₂)^½) is taken as Tr((Σ₁^½ Σ₂ Σ₁^½)^½): the matrix inside is symmetric positive
/// semi-definite, so both square roots come from symmetric eigen-decompositions (negative eigenvalues
/// from round-off clamp to zero) instead of the unstable iteration or complex sqrtm of pytorch-fid.
/// </summary>
public static class FrechetDistance
{
    public static double Compute(FeatureStatistics a, FeatureStatistics b)
    {
        if (a.Dimension != b.Dimension)
            throw new ArgumentException($"Fréchet distance: feature dimensions differ ({a.Dimension} and {b.Dimension})");
        double meanTerm = 0;
        for (int j = 0; j < a.Dimension; j++) { double diff = a.Mean[j] - b.Mean[j]; meanTerm += diff * diff; }
        var sqrtA = SymmetricSqrt(a.Covariance);
        var inner = sqrtA * b.Covariance * sqrtA;
        inner = (inner + inner.Transpose()) * 0.5; // exact symmetry for the eigen-solver
        double traceSqrt = 0;
        foreach (var ev in inner.Evd(Symmetricity.Symmetric).EigenValues) traceSqrt += Math.Sqrt(Math.Max(ev.Real, 0));
        return meanTerm + a.Covariance.Trace() + b.Covariance.Trace() - 2 * traceSqrt;
    }

    /// <summary>
    /// The distance between two sets of feature vectors (row-major, <paramref name="na"/> and
    /// <paramref name="nb"/> rows of <paramref name="d"/>). When a set has fewer vectors than half the
    /// dimensions (a few hundred images under InceptionV3's 2048-d pool_3), the covariances have low rank
    /// and the d×d decompositions are wasted work (minutes in managed code at d = 2048): with centred
    /// features A, B, Σ₁Σ₂ = AᵀA·BᵀB / ((na−1)(nb−1)) has the nonzero eigenvalues of M·Mᵀ for
    /// M = A·Bᵀ, so Tr((Σ₁Σ₂)^½) = Σ √eig(M·Mᵀ) / √((na−1)(nb−1)), a min(na, nb)-sized problem that
    /// is also more exact: no eigenvalues of ±1e-15 to clamp.
    /// </summary>
    public static double Compute(ReadOnlySpan<float> a, int na, ReadOnlySpan<float> b, int nb, int d)
    {
        if (2L * Math.Min(na, nb) > d) return Compute(FeatureStatistics.Of(a, na, d), FeatureStatistics.Of(b, nb, d));
        var (meanA, ca) = FeatureStatistics.Center(a, na, d);
        var (meanB, cb) = FeatureStatistics.Center(b, nb, d);
        double meanTerm = 0;
        for (int j = 0; j < d; j++) { double diff = meanA[j] - meanB[j]; meanTerm += diff * diff; }
        double traceA = ca.FrobeniusNorm() * ca.FrobeniusNorm() / (na - 1), traceB = cb.FrobeniusNorm() * cb.FrobeniusNorm() / (nb - 1);
        // Σ √eig(M·Mᵀ) is the sum of M's singular values, taken by SVD rather than from M·Mᵀ, whose
        // squaring would again cost the small ones half their digits.
        var m = ca.TransposeAndMultiply(cb); // [na, nb]
        double traceSqrt = m.Svd(computeVectors: false).S.Sum() / Math.Sqrt((na - 1.0) * (nb - 1.0));
        return meanTerm + traceA + traceB - 2 * traceSqrt;
    }

    /// <summary>V·diag(√max(λ, 0))·Vᵀ of a symmetric matrix.</summary>
    internal static Matrix<double> SymmetricSqrt(Matrix<double> s)
    {
        var evd = s.Evd(Symmetricity.Symmetric);
        var v = evd.EigenVectors;
        var roots = Vector<double>.Build.Dense(s.RowCount, i => Math.Sqrt(Math.Max(evd.EigenValues[i].Real, 0)));
        return v * Matrix<double>.Build.DiagonalOfDiagonalVector(roots) * v.Transpose();
    }
}
