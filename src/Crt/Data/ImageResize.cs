namespace Crt.Data;

public enum ResampleFilter
{
    /// <summary>Box: the average of the source pixels a target pixel covers (area); repeats pixels when enlarging.</summary>
    Box,
    /// <summary>Keys' cubic convolution with a = −0.5, widened by the scale factor when shrinking (antialiased).</summary>
    Bicubic,
}

/// <summary>
/// Resizes 8-bit images exactly as Pillow's Image.resize does (libImaging/Resample.c, Pillow 9.4), so
/// preprocessing matches the Python pipelines the paper's numbers come from: a separable filter whose
/// support grows with the downscaling factor (antialiasing), weights normalised per output pixel and
/// rounded to 22-bit fixed point, the horizontal pass first, its result rounded and clipped to uint8
/// before the vertical pass. Channels are resampled independently.
/// </summary>
public static class ImageResize
{
    private const int PrecisionBits = 32 - 8 - 2;

    public static DecodedImage Resize(DecodedImage image, int width, int height, ResampleFilter filter)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"resize: target size {width}×{height} must be at least 1×1");
        var img = image;
        if (width != img.Width)
        {
            var (bounds, weights, k) = Coefficients(img.Width, width, filter);
            img = Pass(img, width, img.Height, bounds, weights, k, horizontal: true);
        }
        if (height != img.Height)
        {
            var (bounds, weights, k) = Coefficients(img.Height, height, filter);
            img = Pass(img, img.Width, height, bounds, weights, k, horizontal: false);
        }
        return img;
    }

    /// <summary>
    /// Pillow's precompute_coeffs + normalize_coeffs_8bpc: for output pixel i, the first source index and
    /// count (bounds[2i], bounds[2i+1]) and ksize fixed-point weights.
    /// </summary>
    private static (int[] Bounds, int[] Weights, int KSize) Coefficients(int inSize, int outSize, ResampleFilter filter)
    {
        double support0 = filter == ResampleFilter.Box ? 0.5 : 2.0;
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = support0 * filterScale;
        int ksize = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[outSize * 2];
        var weights = new int[outSize * ksize];
        var k = new double[ksize];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
            double ss = 1.0 / filterScale;
            int xmin = Math.Max(0, (int)(center - support + 0.5)); // C's (int) truncates toward zero, as C# does
            int xmax = Math.Min(inSize, (int)(center + support + 0.5)) - xmin;
            double ww = 0;
            for (int x = 0; x < xmax; x++)
            {
                double w = Kernel(filter, (x + xmin - center + 0.5) * ss);
                k[x] = w;
                ww += w;
            }
            for (int x = 0; x < ksize; x++)
            {
                double w = x < xmax && ww != 0 ? k[x] / ww : x < xmax ? k[x] : 0;
                weights[xx * ksize + x] = w < 0 ? (int)(-0.5 + w * (1 << PrecisionBits)) : (int)(0.5 + w * (1 << PrecisionBits));
            }
            bounds[2 * xx] = xmin;
            bounds[2 * xx + 1] = xmax;
        }
        return (bounds, weights, ksize);
    }

    private static double Kernel(ResampleFilter filter, double x)
    {
        if (filter == ResampleFilter.Box) return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
        const double a = -0.5;
        if (x < 0) x = -x;
        if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
        return 0;
    }

    /// <summary>One separable pass (along x or along y), with Pillow's rounding and clipping to uint8.</summary>
    private static DecodedImage Pass(DecodedImage src, int outW, int outH, int[] bounds, int[] weights, int ksize, bool horizontal)
    {
        int c = src.Channels, inW = src.Width;
        var s = src.Pixels;
        var dst = new byte[(long)outW * outH * c];
        for (int y = 0; y < outH; y++)
            for (int x = 0; x < outW; x++)
            {
                int i = horizontal ? x : y;
                int min = bounds[2 * i], count = bounds[2 * i + 1], kOff = i * ksize;
                for (int ch = 0; ch < c; ch++)
                {
                    int acc = 1 << (PrecisionBits - 1);
                    if (horizontal)
                        for (int t = 0; t < count; t++) acc += s[((long)y * inW + min + t) * c + ch] * weights[kOff + t];
                    else
                        for (int t = 0; t < count; t++) acc += s[((long)(min + t) * inW + x) * c + ch] * weights[kOff + t];
                    dst[((long)y * outW + x) * c + ch] = (byte)Math.Clamp(acc >> PrecisionBits, 0, 255);
                }
            }
        return new DecodedImage(outW, outH, c, dst);
    }
}
