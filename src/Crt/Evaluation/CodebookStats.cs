namespace Crt.Evaluation;

/// <summary>How a tokenizer uses its codebook on a split: usage, unigram entropy, perplexity, per-position entropy.</summary>
public sealed record CodebookStats(double Usage, int UsedCodes, double EntropyBits, double Perplexity, double[] PerPositionEntropyBits)
{
    /// <param name="codes">[images, positions] code indices, row-major.</param>
    public static CodebookStats Of(ReadOnlySpan<int> codes, int images, int positions, int codebookSize)
    {
        if (codes.Length != (long)images * positions)
            throw new ArgumentException($"codebook stats: {codes.Length} codes are not {images} images × {positions} positions");
        var counts = new long[codebookSize];
        var perPosition = new double[positions];
        var positionCounts = new Dictionary<int, int>();
        for (int t = 0; t < positions; t++)
        {
            positionCounts.Clear();
            for (int i = 0; i < images; i++)
            {
                int code = codes[i * positions + t];
                if ((uint)code >= (uint)codebookSize)
                    throw new ArgumentOutOfRangeException(nameof(codes), $"codebook stats: code {code} at image {i}, position {t} is outside the codebook of {codebookSize}");
                counts[code]++;
                positionCounts[code] = positionCounts.GetValueOrDefault(code) + 1;
            }
            perPosition[t] = Entropy(positionCounts.Values.Select(v => (long)v), images);
        }
        int used = counts.Count(c => c > 0);
        double h = Entropy(counts, codes.Length);
        return new CodebookStats(used / (double)codebookSize, used, h, Math.Pow(2, h), perPosition);
    }

    private static double Entropy(IEnumerable<long> counts, long total)
    {
        double h = 0;
        foreach (var c in counts)
            if (c > 0) { double p = c / (double)total; h -= p * Math.Log2(p); }
        return h;
    }
}
