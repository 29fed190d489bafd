using Crt.Data;
using Crt.Generator;
using Crt.Tensors;

namespace Crt.Training;

/// <summary>
/// Modelability of a token set under a GPT: cross-entropy (nats) per token and per position — position 0
/// depends on the class alone and is reported apart — and bits per image = Σ CE / ln 2.
/// </summary>
public sealed record ModelabilityReport(int Sequences, double CePerToken, double CePosition0, double CeRest, double BitsPerImage, double[] CePerPosition)
{
    public Dictionary<string, object?> ToMetrics() => new()
    {
        ["sequences"] = Sequences, ["ce_per_token"] = CePerToken, ["ce_position0"] = CePosition0, ["ce_rest"] = CeRest,
        ["bits_per_image"] = BitsPerImage, ["ce_per_position"] = CePerPosition,
    };
}

public static class GptEvaluation
{
    /// <summary>Teacher-forced CE over the first <paramref name="count"/> images of the store (variant 0), with their true labels.</summary>
    public static ModelabilityReport Evaluate(Gpt model, TokenStore store, int count, int batchSize = 64)
    {
        count = Math.Min(count, store.Count);
        if (count < 1) throw new ArgumentException("gpt eval: the token store holds no images");
        int n = model.Config.BlockSize, k = model.Config.VocabSize;
        var perPosition = new double[n];
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            using var noGrad = Tensor.NoGrad();
            var grids = new int[batchSize * n];
            for (int start = 0; start < count; start += batchSize)
            {
                using var scope = TensorScope.Begin();
                int b = Math.Min(batchSize, count - start);
                var labels = new int[b];
                var inputs = new int[b * (n - 1)];
                for (int i = 0; i < b; i++)
                {
                    store.GetCodes(start + i, 0, grids.AsSpan(i * n, n));
                    labels[i] = store.Labels[start + i];
                    Array.Copy(grids, i * n, inputs, i * (n - 1), n - 1);
                }
                var logits = model.Forward(labels, inputs, b, n - 1);
                var ce = Ops.CrossEntropyPerPosition(Ops.Reshape(logits, b * n, k), grids.AsSpan(0, b * n).ToArray()).ToArray(); // one copy per batch
                for (int i = 0; i < b; i++)
                    for (int t = 0; t < n; t++) perPosition[t] += ce[i * n + t];
            }
        }
        finally { model.Train(wasTraining); }
        for (int t = 0; t < n; t++) perPosition[t] /= count;
        double total = perPosition.Sum();
        return new ModelabilityReport(count, total / n, perPosition[0], n > 1 ? (total - perPosition[0]) / (n - 1) : double.NaN, total / Math.Log(2), perPosition);
    }
}
