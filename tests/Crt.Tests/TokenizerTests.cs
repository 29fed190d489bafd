using Crt.Data;
using Crt.Tensors;
using Crt.Tokenizer;
using Xunit;

namespace Crt.Tests;

public class TokenizerTests
{
    [Fact]
    public void VqF16HasLlamaGensParameterCountAndNames()
    {
        var model = new VqModel(VqConfig.Preset("vq-f16"), new Rng(0));
        Assert.Equal(71_883_403, model.ParameterCount);
        var names = model.StateDict().Keys.ToHashSet();
        foreach (var n in new[]
                 {
                     "encoder.conv_in.weight", "encoder.conv_blocks.0.res.0.norm1.weight", "encoder.conv_blocks.0.downsample.conv.weight",
                     "encoder.conv_blocks.2.res.0.nin_shortcut.weight", "encoder.conv_blocks.4.attn.1.proj_out.bias", "encoder.mid.1.q.weight",
                     "encoder.mid.2.conv2.bias", "encoder.norm_out.weight", "encoder.conv_out.weight", "decoder.conv_in.weight",
                     "decoder.conv_blocks.0.attn.2.k.weight", "decoder.conv_blocks.0.upsample.conv.weight", "decoder.conv_blocks.4.res.2.conv1.weight",
                     "quantize.embedding.weight", "quantize.codebook_used", "quant_conv.weight", "post_quant_conv.bias",
                 })
            Assert.Contains(n, names);
        Assert.DoesNotContain("decoder.conv_blocks.4.upsample.conv.weight", names);
    }

    [Fact]
    public void VqTinyMapsImagesToAnEightByEightGridAndBack()
    {
        var cfg = VqConfig.Preset("vq-tiny");
        var model = new VqModel(cfg, new Rng(1));
        var x = new Rng(2).Uniform(new[] { 2, 1, 32, 32 }, -1, 1);
        var (rec, q) = model.Forward(x);
        Assert.Equal(new[] { 2, 1, 32, 32 }, rec.Shape);
        Assert.Equal(new[] { 2, 64, 8 }, q.Latents.Shape);
        Assert.Equal(2 * 64, q.Indices.Length);
        Assert.All(q.Indices, i => Assert.InRange(i, 0, 511));
        Assert.NotNull(q.VqLoss);
        // Latents are unit vectors; the quantized values are codebook rows.
        var lat = q.Latents.ToArray();
        for (int p = 0; p < 5; p++) Assert.Equal(1.0, Math.Sqrt(lat.Skip(p * 8).Take(8).Sum(v => (double)v * v)), 5);
        var err = Assert.Throws<ArgumentException>(() => model.Encode(Tensor.Zeros(1, 3, 32, 32)));
        Assert.Contains("[B, 1, H, W]", err.Message);
    }

    [Fact]
    public void DeadCodesRestartFromDistinctBatchLatentsAfterTheirWindow()
    {
        var q = new VectorQuantizer(8, 4, 0.25f, 0, new Rng(3), trackCodeUse: true);
        var before = q.Embedding.Weight.ToArray();
        var latents = Ops.L2Normalize(new Rng(4).Normal(new[] { 6, 4 }), -1);
        var z = latents.ToArray();

        q.NoteCodesUsed(new[] { 2, 5, 5 }, step: 3);
        Assert.Empty(q.RestartDeadCodes(latents, step: 3, window: 4, new Rng(9))); // no code has been idle for 4 steps yet
        var dead = q.RestartDeadCodes(latents, step: 4, window: 4, new Rng(9));
        Assert.Equal(new[] { 0, 1, 3, 4, 6, 7 }, dead); // never chosen; 2 and 5 were chosen at step 3

        var after = q.Embedding.Weight.ToArray();
        var picked = new List<int>();
        for (int k = 0; k < 8; k++)
        {
            var row = after.AsSpan(k * 4, 4).ToArray();
            if (!dead.Contains(k)) { Assert.Equal(before.AsSpan(k * 4, 4).ToArray(), row); continue; }
            int source = Enumerable.Range(0, 6).Single(i => z.AsSpan(i * 4, 4).SequenceEqual(row));
            picked.Add(source);
        }
        Assert.Equal(6, picked.Distinct().Count()); // six dead codes, six latents: each latent used once
        Assert.All(q.CodeLastUsed!.ToArray().Where((_, k) => dead.Contains(k)), s => Assert.Equal(4f, s));

        // Restarted codes get a full window again; more dead codes than latents reuse latents.
        Assert.Empty(q.RestartDeadCodes(latents, step: 6, window: 4, new Rng(9)));
        Assert.Equal(8, q.RestartDeadCodes(Ops.Slice(latents, 0, 0, 2), step: 11, window: 4, new Rng(9)).Length);
        Assert.Throws<InvalidOperationException>(() => new VectorQuantizer(8, 4, 0.25f, 0, new Rng(3)).NoteCodesUsed(new[] { 0 }, 1));
    }

    [Fact]
    public void ReconstructRunsInEvalModeAndRestoresTheMode()
    {
        // With dropout on, a training-mode forward differs from run to run; Reconstruct (rFID's images) must not.
        var model = new VqModel(VqConfig.Preset("vq-tiny") with { Dropout = 0.5f }, new Rng(1));
        var x = new Rng(2).Uniform(new[] { 3, 1, 32, 32 }, -1, 1);
        var usage = model.Quantize.CodebookUsed.ToArray();
        Assert.True(model.Training);
        var recon = Training.TokenizerEvaluation.Reconstruct(model, x).ToArray();
        Assert.True(model.Training);
        Assert.Equal(usage, model.Quantize.CodebookUsed.ToArray()); // the usage window is the training's, not the evaluation's
        model.Eval();
        float[] expected;
        using (Tensor.NoGrad()) expected = Ops.Clamp(model.Forward(x).Reconstruction, -1f, 1f).ToArray();
        Assert.Equal(expected, recon);
    }

    [Fact]
    public void EvaluateKeepsTheReconstructionsReconstructMakes()
    {
        // The sweep and the demo take rFID's images from the evaluation's own decoding (batches of 3 here) instead of
        // decoding again (Reconstruct: batches of up to 200): the same bits, since no image depends on its batch.
        var model = new VqModel(VqConfig.Preset("vq-tiny"), new Rng(5));
        var r = new Random(6);
        var pixels = new byte[7 * 28 * 28];
        r.NextBytes(pixels);
        var set = new ImageSet("random", 1, 28, 28, pixels, new int[7], new[] { "a" });
        var real = set.Batch(Enumerable.Range(0, 7).ToArray(), pad: 2);
        var kept = Tensor.Empty(real.Shape);
        Training.TokenizerEvaluation.Evaluate(model, set, pad: 2, count: 7, batchSize: 3, reconstructions: kept);
        Assert.Equal(Training.TokenizerEvaluation.Reconstruct(model, real).ToArray(), kept.ToArray());
        Assert.Throws<ArgumentException>(() => Training.TokenizerEvaluation.Evaluate(model, set, 2, 7, reconstructions: Tensor.Empty(6, 1, 32, 32)));
    }
}
