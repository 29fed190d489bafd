using Crt.Data;
using Crt.Evaluation;
using Crt.Regularizer;
using Crt.Tensors;
using Crt.Tokenizer;

namespace Crt.Training;

/// <summary>Reconstruction and codebook metrics of a tokenizer on a set of images (all in [−1, 1], data range 2).</summary>
public sealed record ReconstructionReport(int Images, double Mse, double Psnr, double Ssim, double CodebookUsage, int UsedCodes,
    double CodeEntropyBits, double CodePerplexity, double MeanPositionEntropyBits, double? CrtLoss)
{
    public Dictionary<string, object?> ToMetrics() => new()
    {
        ["images"] = Images, ["mse"] = Mse, ["psnr"] = Psnr, ["ssim"] = Ssim, ["codebook_usage"] = CodebookUsage,
        ["used_codes"] = UsedCodes, ["code_entropy_bits"] = CodeEntropyBits, ["code_perplexity"] = CodePerplexity,
        ["mean_position_entropy_bits"] = MeanPositionEntropyBits, ["crt_loss"] = CrtLoss,
    };
}

public static class TokenizerEvaluation
{
    /// <summary>
    /// Encodes and decodes <paramref name="count"/> images of <paramref name="set"/> (from the start, in
    /// order) in eval mode and measures them. With a regulariser, its loss on the latents is reported too.
    /// With <paramref name="reconstructions"/> ([count, C, H, W]) it also keeps the reconstructions, clamped to the pixel
    /// range, as <see cref="Reconstruct"/> makes them (bit for bit: a vq model's images do not depend on their batch), so
    /// an rFID of the same images need not decode them again.
    /// </summary>
    public static ReconstructionReport Evaluate(VqModel model, ImageSet set, int pad, int count, CausalRegularizer? regularizer = null, int batchSize = 100,
        Tensor? reconstructions = null)
    {
        count = Math.Min(count, set.Count);
        if (count < 1) throw new ArgumentException($"{set.Name}: no images to evaluate");
        if (reconstructions is not null && (reconstructions.Rank != 4 || reconstructions.Shape[0] != count || !reconstructions.Device.IsCpu))
            throw new ArgumentException($"{set.Name}: reconstructions {ShapeUtil.Format(reconstructions.Shape)} must be [{count}, C, H, W] on the CPU");
        bool wasTraining = model.Training;
        model.Eval();
        regularizer?.Eval();
        double mse = 0, psnr = 0, ssim = 0, crt = 0;
        int tokens = model.Config.TokensPerImage;
        var codes = new int[count * tokens];
        try
        {
            using var noGrad = Tensor.NoGrad();
            for (int start = 0; start < count; start += batchSize)
            {
                using var scope = TensorScope.Begin();
                int n = Math.Min(batchSize, count - start);
                var idx = Enumerable.Range(start, n).ToArray();
                var x = set.Batch(idx, pad);
                var (recOnDevice, q) = model.Forward(x.To(model.Device));
                var rec = recOnDevice.To(Device.Cpu); // the metrics read pixels on the host: one copy per batch
                if (q.Indices.Length != n * tokens)
                    throw new ArgumentException($"{set.Name}: images of {x.Shape[2]}×{x.Shape[3]} give {q.Indices.Length / n} tokens, the tokenizer expects {tokens}");
                int c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
                mse += ReconstructionMetrics.Mse(x.ReadOnlySpan, rec.ReadOnlySpan, n, c, h, w).Sum();
                psnr += ReconstructionMetrics.Psnr(x.ReadOnlySpan, rec.ReadOnlySpan, n, c, h, w, 2.0).Sum();
                ssim += ReconstructionMetrics.Ssim(x.ReadOnlySpan, rec.ReadOnlySpan, n, c, h, w, 2.0).Sum();
                q.Indices.CopyTo(codes, start * tokens);
                if (reconstructions is not null)
                {
                    if (rec.Size != n * reconstructions.Size / count)
                        throw new ArgumentException($"{set.Name}: reconstructions hold {ShapeUtil.Format(reconstructions.Shape)}, the tokenizer makes [{n}, {c}, {h}, {w}] per batch");
                    Ops.Clamp(rec, -1f, 1f).ReadOnlySpan.CopyTo(reconstructions.Span.Slice(start * rec.Size / n, rec.Size));
                }
                if (regularizer is not null)
                    crt += regularizer.Loss(regularizer.Config.NormalizedLatents ? q.Latents : q.RawLatents, q.Indices).Item() * n;
            }
        }
        finally
        {
            model.Train(wasTraining);
            regularizer?.Train(wasTraining);
        }
        var stats = CodebookStats.Of(codes, count, tokens, model.Config.CodebookSize);
        return new ReconstructionReport(count, mse / count, psnr / count, ssim / count, stats.Usage, stats.UsedCodes, stats.EntropyBits,
            stats.Perplexity, stats.PerPositionEntropyBits.Average(), regularizer is null ? null : crt / count);
    }

    /// <summary>
    /// The tokenizer's reconstructions of <paramref name="real"/> (clamped to the pixel range), in eval mode (no dropout, no
    /// quantizer losses, the codebook-usage window left as it is), in batches that bound the activations' memory.
    /// </summary>
    public static Tensor Reconstruct(VqModel model, Tensor real)
    {
        var recon = Tensor.Empty(real.Shape).Keep();
        int n = real.Shape[0], per = real.Size / n;
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            using var noGrad = Tensor.NoGrad();
            for (int start = 0; start < n; start += 200)
            {
                using var scope = TensorScope.Begin();
                int b = Math.Min(200, n - start);
                var x = Tensor.From(real.ReadOnlySpan.Slice(start * per, b * per), b, real.Shape[1], real.Shape[2], real.Shape[3]).To(model.Device);
                Ops.Clamp(model.Forward(x).Reconstruction, -1f, 1f).CopyTo(recon.Span.Slice(start * per, b * per));
            }
        }
        finally { model.Train(wasTraining); }
        return recon;
    }

    /// <summary>A PNG with the first images of <paramref name="set"/> (top rows) and their reconstructions (bottom rows).</summary>
    public static void SaveReconstructionGrid(VqModel model, ImageSet set, int pad, int count, string path)
    {
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            using var noGrad = Tensor.NoGrad();
            using var scope = TensorScope.Begin();
            var x = set.Batch(Enumerable.Range(0, Math.Min(count, set.Count)).ToArray(), pad);
            var (rec, _) = model.Forward(x.To(model.Device));
            ImageGrid.Save(path, Ops.Concat(new[] { x, Ops.Clamp(rec, -1f, 1f).To(Device.Cpu) }, 0), columns: x.Shape[0]);
        }
        finally { model.Train(wasTraining); }
    }
}
