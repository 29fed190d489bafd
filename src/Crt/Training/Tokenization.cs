using Crt.Data;
using Crt.Tensors;

namespace Crt.Training;

/// <summary>Runs a frozen tokenizer over a dataset and writes a token store (codes + labels + provenance header).</summary>
public static class Tokenization
{
    /// <summary>
    /// Variant names: the image, its mirror, and LlamaGen's ten-crop style crops — the image enlarged by
    /// 1.1× (bilinear) and cut back to size at a corner or the centre (crop-tl, crop-tr, crop-bl, crop-br,
    /// crop-c), each optionally mirrored (flip-crop-…). "ten-crop" expands to all ten crops.
    /// </summary>
    public static readonly string[] KnownVariants =
    {
        "original", "flip", "crop-tl", "crop-tr", "crop-bl", "crop-br", "crop-c", "flip-crop-tl", "flip-crop-tr", "flip-crop-bl", "flip-crop-br", "flip-crop-c",
    };

    /// <summary>Expands shorthands ("ten-crop") and checks every name.</summary>
    public static string[] ExpandVariants(IEnumerable<string> names)
    {
        var result = new List<string>();
        foreach (var v in names)
        {
            if (v == "ten-crop") result.AddRange(KnownVariants.Where(k => k.Contains("crop")));
            else if (KnownVariants.Contains(v)) result.Add(v);
            else throw new ArgumentException($"tokenize: unknown variant '{v}'; known variants: {string.Join(", ", KnownVariants)}, ten-crop");
        }
        if (result.Count == 0) throw new ArgumentException("tokenize: no variants requested");
        return result.Distinct().ToArray();
    }

    /// <summary>The variant of a batch: optional 1.1× enlargement cut at a corner or the centre, then an optional mirror.</summary>
    public static Tensor Variant(Tensor x, string name)
    {
        bool flip = name.StartsWith("flip", StringComparison.Ordinal);
        string crop = name.Contains("crop-") ? name[(name.IndexOf("crop-", StringComparison.Ordinal) + 5)..] : "";
        if (crop != "") x = EnlargeAndCrop(x, crop);
        return flip ? Flip(x) : x;
    }

    private static Tensor EnlargeAndCrop(Tensor x, string where)
    {
        int b = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        int bh = (int)Math.Round(h * 1.1), bw = (int)Math.Round(w * 1.1);
        var big = new float[bh * bw];
        var y = Tensor.Empty(x.Shape);
        var src = x.ReadOnlySpan; var dst = y.Span;
        int top = where is "bl" or "br" ? bh - h : where == "c" ? (bh - h) / 2 : 0;
        int left = where is "tr" or "br" ? bw - w : where == "c" ? (bw - w) / 2 : 0;
        for (int p = 0; p < b * c; p++)
        {
            Augment.ResizeBilinear(src.Slice(p * h * w, h * w), w, 0, 0, h, w, big, bh, bw);
            for (int r = 0; r < h; r++) big.AsSpan((top + r) * bw + left, w).CopyTo(dst.Slice(p * h * w + r * w, w));
        }
        return y;
    }

    public static TokenStoreHeader Run(TokenizerCheckpoint tokenizer, ImageSet set, string outPath, IReadOnlyList<string> variants,
        int batchSize = 256, Action<int, int>? progress = null)
    {
        variants = ExpandVariants(variants);
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
                    var input = Variant(x, variants[v]);
                    var q = tokenizer.Model.Encode(input.To(tokenizer.Model.Device));
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
