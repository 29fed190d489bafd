using Crt.Data;
using Crt.Tensors;

namespace Crt.Training;

/// <summary>Runs a frozen tokenizer over a dataset and writes a token store (codes + labels + provenance header).</summary>
public static class Tokenization
{
    /// <summary>Variant names this build knows: the image itself and its horizontal mirror.</summary>
    public static readonly string[] KnownVariants = { "original", "flip" };

    public static TokenStoreHeader Run(TokenizerCheckpoint tokenizer, ImageSet set, string outPath, IReadOnlyList<string> variants,
        int batchSize = 256, Action<int, int>? progress = null)
    {
        foreach (var v in variants)
            if (!KnownVariants.Contains(v)) throw new ArgumentException($"tokenize: unknown variant '{v}'; known variants: {string.Join(", ", KnownVariants)}");
        if (variants.Count == 0) throw new ArgumentException("tokenize: no variants requested");
        var cfg = tokenizer.Config;
        int pad = cfg.Pad, tokens = cfg.Model.TokensPerImage;
        if (set.Height + 2 * pad != cfg.Model.ImageSize || set.Channels != cfg.Model.InChannels)
            throw new ArgumentException($"tokenize: {set.Name} images are {set.Channels}×{set.Height}×{set.Width} (+{pad} padding); the tokenizer takes {cfg.Model.InChannels}×{cfg.Model.ImageSize}×{cfg.Model.ImageSize}");
        var codes = new int[set.Count * variants.Count * tokens];
        using (Tensor.NoGrad())
            for (int start = 0; start < set.Count; start += batchSize)
            {
                using var scope = TensorScope.Begin();
                int n = Math.Min(batchSize, set.Count - start);
                var x = set.Batch(Enumerable.Range(start, n).ToArray(), pad);
                for (int v = 0; v < variants.Count; v++)
                {
                    var input = variants[v] == "flip" ? Flip(x) : x;
                    var q = tokenizer.Model.Encode(input);
                    for (int i = 0; i < n; i++)
                        q.Indices.AsSpan(i * tokens, tokens).CopyTo(codes.AsSpan(((start + i) * variants.Count + v) * tokens));
                }
                progress?.Invoke(start + n, set.Count);
            }
        var header = new TokenStoreHeader
        {
            TokenizerSha256 = tokenizer.Sha256, GridHeight = cfg.Model.GridSize, GridWidth = cfg.Model.GridSize,
            CodebookSize = cfg.Model.CodebookSize, NumClasses = set.NumClasses, Count = set.Count, Variants = variants.Count,
            VariantNames = variants.ToArray(), Source = set.Name,
        };
        TokenStore.Write(outPath, header, codes, set.Labels);
        return header;
    }

    /// <summary>Mirrors [B, C, H, W] images left to right.</summary>
    public static Tensor Flip(Tensor x)
    {
        int w = x.Shape[3];
        var y = Tensor.Empty(x.Shape);
        var s = x.ReadOnlySpan; var d = y.Span;
        for (int row = 0; row < x.Size / w; row++)
            for (int c = 0; c < w; c++) d[row * w + c] = s[row * w + w - 1 - c];
        return y;
    }
}
