using Crt.Generator;
using Crt.Tensors;
using Crt.Tensors.IO;
using Xunit;

namespace Crt.Tests;

public class GptTests
{
    private static readonly GptConfig ParityConfig = GptConfig.Preset("gpt-t4") with
    {
        VocabSize = 64, NumClasses = 10, BlockSize = 16,
        TokenDropout = 0, ResidDropout = 0, FfnDropout = 0, ClassDropout = 0,
    };

    [Fact]
    public void PresetParameterCountsMatchLlamaGen()
    {
        var b = new Gpt(GptConfig.Preset("gpt-b"), new Rng(0));
        Assert.Equal(110_888_448, b.ParameterCount);
        Assert.Equal(110_888_448, GptConfig.Preset("gpt-b").ParameterCount());
        Assert.Equal(342_910_976, GptConfig.Preset("gpt-l").ParameterCount()); // LlamaGen: 343M
        Assert.Equal(774_699_520, GptConfig.Preset("gpt-xl").ParameterCount()); // LlamaGen: 775M
        foreach (var name in new[] { "gpt-t1", "gpt-t2", "gpt-t3" })
        {
            var c = GptConfig.Preset(name) with { VocabSize = 512, NumClasses = 10, BlockSize = 64 };
            Assert.Equal(c.ParameterCount(), new Gpt(c, new Rng(0)).ParameterCount);
        }
    }

    [Fact]
    public void ParameterNamesFollowLlamaGen()
    {
        var names = new Gpt(GptConfig.Preset("gpt-t1") with { VocabSize = 32, NumClasses = 3, BlockSize = 16 }, new Rng(0))
            .NamedParameters().Select(p => p.Name).ToHashSet();
        foreach (var n in new[] { "cls_embedding.embedding_table.weight", "tok_embeddings.weight", "layers.1.attention.wqkv.weight",
                     "layers.1.attention.wo.weight", "layers.0.feed_forward.w1.weight", "layers.0.feed_forward.w2.weight",
                     "layers.0.feed_forward.w3.weight", "layers.0.attention_norm.weight", "layers.0.ffn_norm.weight", "norm.weight", "output.weight" })
            Assert.Contains(n, names);
        Assert.Equal(2 + 2 * 7 + 2, names.Count);
    }

    /// <summary>Fills every parameter as tools/parity/make_gpt.py does: sorted-name index j, scale·sin(0.37·i + 1.1·j).</summary>
    private static Gpt ParityModel()
    {
        var model = new Gpt(ParityConfig, new Rng(0));
        var named = model.NamedParameters().OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
        for (int j = 0; j < named.Count; j++)
        {
            var (name, p) = named[j];
            bool norm = name.EndsWith("norm.weight", StringComparison.Ordinal);
            var s = p.Span;
            for (int i = 0; i < s.Length; i++)
            {
                double v = Math.Sin(0.37 * i + 1.1 * j);
                s[i] = (float)(norm ? 1.0 + 0.1 * v : 0.05 * v);
            }
        }
        return model;
    }

    [Fact]
    public void LogitsLossAndGradientsMatchPyTorch()
    {
        var path = TestData.File("parity/gpt.safetensors");
        var f = SafeTensors.Load(path);
        var grids = SafeTensors.LoadInt32(path, "grids").Data;
        var classes = SafeTensors.LoadInt32(path, "classes").Data;
        var model = ParityModel();
        AssertClose(f["freqs_cis"].ToArray(), model.FreqsCis.ToArray(), 1e-6, "2D RoPE table");

        var loss = model.Loss(classes, grids, 2);
        Assert.Equal(f["loss"].Item(), loss.Item(), tolerance: 1e-5);
        using (Tensor.NoGrad())
        {
            var inputs = Enumerable.Range(0, 2).SelectMany(b => grids.Skip(b * 16).Take(15)).ToArray();
            AssertClose(f["logits"].ToArray(), model.Forward(classes, inputs, 2, 15).ToArray(), 1e-5, "logits");
        }
        loss.Backward();
        // Eight layers of float32 backward in another summation order than PyTorch's: ~1e-4 relative drift.
        foreach (var (name, p) in model.NamedParameters())
        {
            var g = p.Grad!.ToArray();
            AssertClose(f["grad_head." + name].ToArray(), g.Take(32).ToArray(), 1e-3, name);
            double norm = Math.Sqrt(g.Sum(v => (double)v * v));
            Assert.True(Math.Abs(norm - f["grad_norm." + name].Item()) <= 1e-3 * norm + 1e-9, $"{name}: gradient norm {norm:G6} vs PyTorch {f["grad_norm." + name].Item():G6}");
        }
    }

    private static void AssertClose(float[] expected, float[] actual, double rtol, string label) => TestData.AssertClose(expected, actual, rtol, label);

    [Fact]
    public void CachedIncrementalLogitsEqualTheFullForward()
    {
        var model = ParityModel();
        model.Eval();
        var rng = new Rng(5);
        int[] classes = { 1, 10, 7 };
        var tokens = Enumerable.Range(0, 3 * 15).Select(_ => rng.NextInt(64)).ToArray();
        using var noGrad = Tensor.NoGrad();
        var full = model.Forward(classes, tokens, 3, 15).ToArray(); // [3, 16, 64]
        var caches = model.Layers.Select(_ => new KvCache(3, 8, 16, 32)).ToArray();
        for (int t = 0; t < 16; t++)
        {
            var emb = t == 0 ? model.EmbedClasses(classes) : model.EmbedTokens(Enumerable.Range(0, 3).Select(b => tokens[b * 15 + t - 1]).ToArray(), 3, 1);
            var step = model.ForwardCached(emb, t, caches).ToArray(); // [3, 1, 64]
            for (int b = 0; b < 3; b++)
                // 3e-5: the cached step's attention (the decode kernel, keys one by one) sums in another order than the
                // full forward's blocked kernel; both are within 2e-6 of float64 alone (AttentionWidthTests), a wrong key
                // or position would be off by ~1e-1
                AssertClose(full.AsSpan((b * 16 + t) * 64, 64).ToArray(), step.AsSpan(b * 64, 64).ToArray(), 3e-5, $"position {t}, image {b}");
        }
    }

    [Fact]
    public void SamplingStepMatchesLlamaGensFiltering()
    {
        var f = SafeTensors.Load(TestData.File("parity/gpt.safetensors"));
        var cond = f["sample_cond"].ToArray(); var uncond = f["sample_uncond"].ToArray();
        var cases = new Dictionary<string, SamplingOptions>
        {
            ["a"] = new() { CfgScale = 2f, Temperature = 0.8f, TopK = 20, TopP = 0.9f },
            ["b"] = new() { CfgScale = 1f, Temperature = 1f, TopK = 0, TopP = 0.5f },
            ["c"] = new() { CfgScale = 4f, Temperature = 1.3f, TopK = 5, TopP = 1f },
        };
        foreach (var (name, o) in cases)
        {
            var expected = f["sample_probs_" + name].ToArray();
            for (int row = 0; row < 3; row++)
            {
                var probs = new float[64];
                Sampler.NextTokenProbabilities(cond.AsSpan(row * 64, 64), uncond.AsSpan(row * 64, 64), o, probs);
                AssertClose(expected.AsSpan(row * 64, 64).ToArray(), probs, 1e-5, $"case {name} row {row}");
            }
        }
    }

    [Fact]
    public void SamplingIsReproducibleAndRejectsBadOptions()
    {
        var model = ParityModel();
        var o = new SamplingOptions { CfgScale = 2f, TopK = 10 };
        var a = Sampler.Generate(model, new[] { 1, 2 }, o, new Rng(9));
        var b = Sampler.Generate(model, new[] { 1, 2 }, o, new Rng(9));
        Assert.Equal(a, b);
        Assert.Equal(2 * 16, a.Length);
        Assert.All(a, z => Assert.InRange(z, 0, 63));
        Assert.NotEqual(a, Sampler.Generate(model, new[] { 1, 2 }, o, new Rng(10)));
        Assert.Throws<ArgumentException>(() => Sampler.Generate(model, new[] { 1 }, o with { TopP = 0f }, new Rng(1)));
        Assert.Throws<ArgumentException>(() => Sampler.Generate(model, new[] { 1 }, o with { TopP = 1.5f }, new Rng(1)));
        var err = Assert.Throws<ArgumentOutOfRangeException>(() => Sampler.Generate(model, new[] { 11 }, o, new Rng(1)));
        Assert.Contains("class id 11", err.Message);
    }
}
