using Crt.Tensors;

namespace Crt.Evaluation;

/// <summary>
/// Controlled damage to images [N, C, H, W] in [−1, 1], the standard sanity check of a Fréchet distance
/// (Heusel et al. 2017, Fig. A1): a sound feature network ranks more damage as farther away.
/// </summary>
public static class ImageDegradations
{
    /// <summary>
    /// Gaussian blur of each channel with standard deviation <paramref name="sigma"/> pixels, as
    /// scipy.ndimage.gaussian_filter's defaults: a separable kernel of radius ⌊4σ + ½⌋ and borders
    /// mirrored about the edge (mode "reflect": … c b a | a b c …).
    /// </summary>
    public static Tensor GaussianBlur(Tensor images, double sigma)
    {
        CheckImages(images, "blur");
        if (!(sigma > 0)) throw new ArgumentException($"blur: sigma must be positive, got {sigma}");
        int radius = (int)(4 * sigma + 0.5);
        var kernel = new double[2 * radius + 1];
        for (int i = -radius; i <= radius; i++) kernel[i + radius] = Math.Exp(-0.5 * i * i / (sigma * sigma));
        double total = kernel.Sum();
        for (int i = 0; i < kernel.Length; i++) kernel[i] /= total;

        int planes = images.Shape[0] * images.Shape[1], h = images.Shape[2], w = images.Shape[3];
        var src = images.ReadOnlySpan;
        var result = Tensor.Empty(images.Shape);
        var dst = result.Span;
        var rows = new double[h * w];
        for (int p = 0; p < planes; p++)
        {
            var plane = src.Slice(p * h * w, h * w);
            for (int y = 0; y < h; y++) // along rows
                for (int x = 0; x < w; x++)
                {
                    double s = 0;
                    for (int k = -radius; k <= radius; k++) s += kernel[k + radius] * plane[y * w + Reflect(x + k, w)];
                    rows[y * w + x] = s;
                }
            for (int y = 0; y < h; y++) // then along columns
                for (int x = 0; x < w; x++)
                {
                    double s = 0;
                    for (int k = -radius; k <= radius; k++) s += kernel[k + radius] * rows[Reflect(y + k, h) * w + x];
                    dst[p * h * w + y * w + x] = (float)s;
                }
        }
        return result;
    }

    /// <summary>Adds N(0, σ²) noise per pixel and clamps to [−1, 1], as a stored image would be.</summary>
    public static Tensor GaussianNoise(Tensor images, double sigma, Rng rng)
    {
        CheckImages(images, "noise");
        if (!(sigma >= 0)) throw new ArgumentException($"noise: sigma must be non-negative, got {sigma}");
        var result = images.Clone();
        var s = result.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (float)Math.Clamp(s[i] + sigma * rng.NextNormal(), -1.0, 1.0);
        return result;
    }

    /// <summary>scipy's "reflect": the edge pixel is repeated once (… 1 0 | 0 1 … | n−1 n−2 …), periodic for kernels wider than the image.</summary>
    private static int Reflect(int i, int n)
    {
        int period = 2 * n;
        i %= period;
        if (i < 0) i += period;
        return i < n ? i : period - 1 - i;
    }

    private static void CheckImages(Tensor images, string op)
    {
        if (images.Rank != 4) throw new ArgumentException($"{op}: expected images [N, C, H, W], got {ShapeUtil.Format(images.Shape)}");
    }
}
