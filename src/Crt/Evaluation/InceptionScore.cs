namespace Crt.Evaluation;

/// <summary>
/// Inception Score exp(E_x KL(p(y|x) ‖ p(y))) from class probabilities, computed per split and reported
/// as mean and (population) standard deviation over splits, as the original implementation does.
/// </summary>
public static class InceptionScore
{
    public static (double Mean, double Std) Compute(ReadOnlySpan<float> probs, int n, int classes, int splits = 10)
    {
        if (probs.Length != (long)n * classes) throw new ArgumentException($"inception score: {probs.Length} values are not {n} rows of {classes} probabilities");
        if (splits < 1 || splits > n) throw new ArgumentException($"inception score: {splits} splits for {n} samples (need 1 ≤ splits ≤ samples)");
        var scores = new double[splits];
        var marginal = new double[classes];
        for (int s = 0; s < splits; s++)
        {
            int start = (int)((long)n * s / splits), end = (int)((long)n * (s + 1) / splits);
            Array.Clear(marginal);
            for (int i = start; i < end; i++)
                for (int c = 0; c < classes; c++) marginal[c] += probs[i * classes + c];
            for (int c = 0; c < classes; c++) marginal[c] /= end - start;
            double kl = 0;
            for (int i = start; i < end; i++)
                for (int c = 0; c < classes; c++)
                {
                    double p = probs[i * classes + c];
                    if (p > 0) kl += p * (Math.Log(p) - Math.Log(marginal[c]));
                }
            scores[s] = Math.Exp(kl / (end - start));
        }
        double mean = scores.Average();
        return (mean, Math.Sqrt(scores.Sum(x => (x - mean) * (x - mean)) / splits));
    }
}
