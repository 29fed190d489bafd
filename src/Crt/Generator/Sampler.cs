using Crt.Tensors;

namespace Crt.Generator;

/// <summary>How tokens are drawn: classifier-free guidance scale, temperature, top-k (0 = off), top-p (1 = off).</summary>
public sealed record SamplingOptions
{
    public float CfgScale { get; init; } = 1.5f;
    public float Temperature { get; init; } = 1f;
    public int TopK { get; init; }
    public float TopP { get; init; } = 1f;

    public void Validate(int vocabSize)
    {
        if (!(CfgScale >= 0)) throw new ArgumentException($"sampling: cfg scale {CfgScale} must be ≥ 0");
        if (!(Temperature >= 0)) throw new ArgumentException($"sampling: temperature {Temperature} must be ≥ 0");
        if (TopK < 0 || TopK > vocabSize) throw new ArgumentException($"sampling: top-k {TopK} must be in 0..{vocabSize} (0 turns it off)");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"sampling: top-p {TopP} must be in (0, 1]");
    }

    /// <summary>Guidance at scale 1 equals the conditional logits, so the null half need not run.</summary>
    public bool UsesGuidance => CfgScale != 1f;
}

/// <summary>
/// Autoregressive sampling with a KV cache: one forward per new token over the cached keys and values,
/// the conditional and null-class halves of the batch together. Seed semantics: every step draws one
/// uniform number per image from <see cref="Rng.SampleIndex"/>, images in batch order, so the same seed,
/// model and options give the same tokens.
/// </summary>
public static class Sampler
{
    /// <summary>Samples token grids [B, N] (row-major) for the given class ids.</summary>
    public static int[] Generate(Gpt model, int[] classIds, SamplingOptions options, Rng rng, Action<int, int>? progress = null)
    {
        var cfg = model.Config;
        options.Validate(cfg.VocabSize);
        int b = classIds.Length, n = cfg.BlockSize, k = cfg.VocabSize;
        bool guided = options.UsesGuidance;
        int rows = guided ? 2 * b : b;
        var labels = guided ? classIds.Concat(Enumerable.Repeat(cfg.NumClasses, b)).ToArray() : classIds;
        using var cacheScope = TensorScope.Begin(); // the caches' storage goes back to the pool when sampling ends
        var device = model.Device;
        var caches = model.Layers.Select(_ => new KvCache(device, rows, cfg.Heads, n, cfg.HeadDim)).ToArray();
        var result = new int[b * n];
        var step = new int[rows];
        var probs = new float[k];
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            using var noGrad = Tensor.NoGrad();
            using var frozen = FrozenWeights.Begin(model.Parameters()); // packed once, not at every token (same sums)
            for (int t = 0; t < n; t++)
            {
                using var scope = TensorScope.Begin();
                var emb = t == 0 ? model.EmbedClasses(labels) : model.EmbedTokens(step, rows, 1);
                // [rows, 1, K]; on a device, copied to the host to draw (the draw itself is not a device kernel yet)
                var logitsTensor = model.ForwardCached(emb, t, caches);
                ReadOnlySpan<float> logits = device.IsCpu ? logitsTensor.ReadOnlySpan : logitsTensor.ToArray();
                for (int i = 0; i < b; i++)
                {
                    var cond = logits.Slice(i * k, k);
                    var uncond = guided ? logits.Slice((b + i) * k, k) : cond;
                    NextTokenProbabilities(cond, uncond, options, probs);
                    int z = rng.SampleIndex(probs);
                    result[i * n + t] = z;
                    step[i] = z;
                    if (guided) step[b + i] = z;
                }
                progress?.Invoke(t + 1, n);
            }
        }
        finally { model.Train(wasTraining); }
        return result;
    }

    /// <summary>
    /// The distribution one token is drawn from: logits = uncond + s·(cond − uncond), divided by
    /// max(temperature, 1e-5), filtered by top-k then top-p (LlamaGen's top_k_top_p_filtering: the
    /// smallest prefix of the sorted distribution whose mass exceeds p is kept, always at least one
    /// token), then softmax. Writes normalised probabilities into <paramref name="probs"/>.
    /// </summary>
    public static void NextTokenProbabilities(ReadOnlySpan<float> cond, ReadOnlySpan<float> uncond, SamplingOptions o, Span<float> probs)
    {
        int k = cond.Length;
        float invT = 1f / Math.Max(o.Temperature, 1e-5f);
        for (int j = 0; j < k; j++) probs[j] = (uncond[j] + o.CfgScale * (cond[j] - uncond[j])) * invT;
        if (o.TopK > 0 && o.TopK < k)
        {
            var sorted = probs.ToArray();
            Array.Sort(sorted);
            float kth = sorted[k - o.TopK];
            for (int j = 0; j < k; j++) if (probs[j] < kth) probs[j] = float.NegativeInfinity;
        }
        Softmax(probs);
        if (o.TopP < 1f)
        {
            var order = Enumerable.Range(0, k).ToArray();
            var keys = probs.ToArray().Select(p => -p).ToArray();
            Array.Sort(keys, order); // stable enough: descending probability
            double cumulative = 0;
            bool cut = false;
            foreach (var j in order)
            {
                if (cut) { probs[j] = 0f; continue; }
                cumulative += probs[j];
                if (cumulative > o.TopP) cut = true; // this token crosses p: it stays, the rest go
            }
            float total = 0;
            foreach (var p in probs) total += p;
            for (int j = 0; j < k; j++) probs[j] /= total;
        }
    }

    private static void Softmax(Span<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (var v in x) max = Math.Max(max, v);
        double sum = 0;
        for (int j = 0; j < x.Length; j++) { x[j] = MathF.Exp(x[j] - max); sum += x[j]; }
        for (int j = 0; j < x.Length; j++) x[j] = (float)(x[j] / sum);
    }
}
