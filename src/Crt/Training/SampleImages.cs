using Crt.Data;
using Crt.Generator;
using Crt.Tensors;
using Crt.Tensors.IO;

namespace Crt.Training;

/// <summary>Samples token grids with a GPT, decodes them with the tokenizer, and writes a grid, the images (unless told not to) and the tokens.</summary>
public static class SampleImages
{
    public sealed record Result(int Count, Tensor Images, int[] Tokens);

    public static Result Run(Gpt gpt, TokenizerCheckpoint tokenizer, int[] labels, SamplingOptions options, Rng rng, int batch, string outDir,
        int columns, bool quiet, bool eachImage = true)
    {
        Directory.CreateDirectory(outDir);
        // What an earlier sample killed mid-write left (only crt's own temporary names, of dead processes; --out may be
        // any folder, so its subfolders other than images/ are not searched).
        TempFiles.RemoveStale(outDir, subfolders: false);
        TempFiles.RemoveStale(Path.Combine(outDir, "images"), subfolders: false);
        int n = gpt.Config.BlockSize, g = tokenizer.Config.Model.GridSize;
        var tokens = new int[labels.Length * n];
        var cfg = tokenizer.Config.Model;
        var images = Tensor.Empty(labels.Length, cfg.InChannels, cfg.ImageSize, cfg.ImageSize).Keep();
        var progress = new ProgressReporter("sample", 0, labels.Length, quiet);
        for (int start = 0; start < labels.Length; start += batch)
        {
            int b = Math.Min(batch, labels.Length - start);
            var part = Sampler.Generate(gpt, labels.AsSpan(start, b).ToArray(), options, rng);
            part.CopyTo(tokens, start * n);
            using (Tensor.NoGrad())
            using (TensorScope.Begin())
            {
                var x = Ops.Clamp(tokenizer.Model.DecodeCodes(part, b, g, g), -1f, 1f);
                x.CopyTo(images.Span.Slice(start * x.Size / b, x.Size)); // from a device: one copy per batch
            }
            progress.Report(start + b, Array.Empty<(string, double)>(), (start + b) / Math.Max(progress.Elapsed, 1e-9), "img");
        }
        ImageGrid.Save(Path.Combine(outDir, "grid.png"), images, columns);
        int per = cfg.InChannels * cfg.ImageSize * cfg.ImageSize;
        if (eachImage) Directory.CreateDirectory(Path.Combine(outDir, "images"));
        for (int i = 0; eachImage && i < labels.Length; i++)
        {
            var one = Tensor.From(images.ReadOnlySpan.Slice(i * per, per), 1, cfg.InChannels, cfg.ImageSize, cfg.ImageSize);
            ImageGrid.Save(Path.Combine(outDir, "images", $"{i:D5}-class{labels[i]}.png"), one, 1, gap: 0);
        }
        TokenStore.Write(Path.Combine(outDir, "samples.tokens"), new TokenStoreHeader
        {
            TokenizerSha256 = tokenizer.Sha256, GridHeight = g, GridWidth = g, CodebookSize = gpt.Config.VocabSize,
            NumClasses = gpt.Config.NumClasses, Count = labels.Length, Variants = 1, VariantNames = new[] { "sample" }, Source = "crt sample",
        }, tokens, labels);
        return new Result(labels.Length, images, tokens);
    }
}
