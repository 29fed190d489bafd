namespace Crt.Evaluation;

/// <summary>
/// Per-image reconstruction metrics on [N, C, H, W] images whose pixel values span
/// <c>dataRange</c> (2 for pixels in [−1, 1], 1 for [0, 1], 255 for bytes).
/// </summary>
public static class ReconstructionMetrics
{
    public static double[] Mse(ReadOnlySpan<float> x, ReadOnlySpan<float> y, int n, int c, int h, int w)
    {
        CheckShapes(x, y, n, c, h, w, "mse");
        int size = c * h * w;
        var result = new double[n];
        for (int i = 0; i < n; i++)
        {
            double s = 0;
            for (int j = i * size; j < (i + 1) * size; j++) { double d = (double)x[j] - y[j]; s += d * d; }
            result[i] = s / size;
        }
        return result;
    }

    /// <summary>10·log10(R²/MSE) per image; +∞ for identical images (as skimage).</summary>
    public static double[] Psnr(ReadOnlySpan<float> x, ReadOnlySpan<float> y, int n, int c, int h, int w, double dataRange) =>
        Mse(x, y, n, c, h, w).Select(m => 10 * Math.Log10(dataRange * dataRange / m)).ToArray();

    /// <summary>
    /// skimage.metrics.structural_similarity with its defaults: 7×7 uniform window, sample covariance
    /// (N/(N−1)), K1 = 0.01, K2 = 0.03, the mean taken over the positions whose window lies inside the
    /// image; colour images average their channels.
    /// </summary>
    public static double[] Ssim(ReadOnlySpan<float> x, ReadOnlySpan<float> y, int n, int c, int h, int w, double dataRange)
    {
        CheckShapes(x, y, n, c, h, w, "ssim");
        const int win = 7, pad = win / 2;
        if (h < win || w < win) throw new ArgumentException($"ssim: images of {h}×{w} are smaller than the 7×7 window");
        double c1 = Math.Pow(0.01 * dataRange, 2), c2 = Math.Pow(0.03 * dataRange, 2);
        double np = win * win, covNorm = np / (np - 1);
        var result = new double[n];
        for (int i = 0; i < n; i++)
        {
            double channelSum = 0;
            for (int ch = 0; ch < c; ch++)
            {
                int off = (i * c + ch) * h * w;
                double total = 0;
                for (int r = pad; r < h - pad; r++)
                    for (int col = pad; col < w - pad; col++)
                    {
                        double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
                        for (int dr = -pad; dr <= pad; dr++)
                            for (int dc = -pad; dc <= pad; dc++)
                            {
                                int p = off + (r + dr) * w + col + dc;
                                double a = x[p], b = y[p];
                                sx += a; sy += b; sxx += a * a; syy += b * b; sxy += a * b;
                            }
                        double ux = sx / np, uy = sy / np;
                        double vx = covNorm * (sxx / np - ux * ux), vy = covNorm * (syy / np - uy * uy), vxy = covNorm * (sxy / np - ux * uy);
                        total += (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
                    }
                channelSum += total / ((h - 2 * pad) * (w - 2 * pad));
            }
            result[i] = channelSum / c;
        }
        return result;
    }

    /// <summary>MS-SSIM weights of Wang et al. (2003) for five scales.</summary>
    public static readonly double[] MsSsimWeights = { 0.0448, 0.2856, 0.3001, 0.2363, 0.1333 };

    /// <summary>The smallest side for which five-scale MS-SSIM with an 11×11 window is defined.</summary>
    public const int MsSsimMinSide = (11 - 1) * 16 + 1;

    /// <summary>
    /// Five-scale MS-SSIM as pytorch_msssim computes it (11×11 Gaussian window σ = 1.5, valid filtering,
    /// 2×2 average pooling between scales, negative values clamped to 0). Returns null, with the reason,
    /// when the images are too small for five scales instead of inventing a number.
    /// </summary>
    public static (double[]? Values, string? WhyNot) MsSsim(ReadOnlySpan<float> x, ReadOnlySpan<float> y, int n, int c, int h, int w, double dataRange)
    {
        CheckShapes(x, y, n, c, h, w, "ms-ssim");
        if (Math.Min(h, w) < MsSsimMinSide)
            return (null, $"MS-SSIM needs images of at least {MsSsimMinSide}×{MsSsimMinSide} for five scales with an 11×11 window; these are {h}×{w}");
        var window = GaussianWindow(11, 1.5);
        double c1 = Math.Pow(0.01 * dataRange, 2), c2 = Math.Pow(0.03 * dataRange, 2);
        var result = new double[n];
        for (int i = 0; i < n; i++)
        {
            double channelSum = 0;
            for (int ch = 0; ch < c; ch++)
            {
                int off = (i * c + ch) * h * w;
                var a = new double[h * w]; var b = new double[h * w];
                for (int p = 0; p < h * w; p++) { a[p] = x[off + p]; b[p] = y[off + p]; }
                int hh = h, ww = w;
                double value = 1;
                for (int scale = 0; scale < 5; scale++)
                {
                    var (ssim, cs) = GaussianSsim(a, b, hh, ww, window, c1, c2);
                    value *= Math.Pow(Math.Max(scale < 4 ? cs : ssim, 0), MsSsimWeights[scale]);
                    if (scale < 4) { (a, _, _) = AvgPool2(a, hh, ww); (b, hh, ww) = AvgPool2(b, hh, ww); }
                }
                channelSum += value;
            }
            result[i] = channelSum / c;
        }
        return (result, null);
    }

    private static double[] GaussianWindow(int size, double sigma)
    {
        var g = new double[size];
        for (int i = 0; i < size; i++) { double d = i - size / 2; g[i] = Math.Exp(-d * d / (2 * sigma * sigma)); }
        double s = g.Sum();
        for (int i = 0; i < size; i++) g[i] /= s;
        return g;
    }

    /// <summary>Mean SSIM and mean contrast-structure term over the valid positions of a separable Gaussian filter.</summary>
    private static (double Ssim, double Cs) GaussianSsim(double[] a, double[] b, int h, int w, double[] g, double c1, double c2)
    {
        var mu1 = Filter(a, h, w, g); var mu2 = Filter(b, h, w, g);
        var aa = Filter(Mul(a, a), h, w, g); var bb = Filter(Mul(b, b), h, w, g); var ab = Filter(Mul(a, b), h, w, g);
        double ssim = 0, cs = 0;
        for (int p = 0; p < mu1.Length; p++)
        {
            double m1 = mu1[p], m2 = mu2[p];
            double s1 = aa[p] - m1 * m1, s2 = bb[p] - m2 * m2, s12 = ab[p] - m1 * m2;
            double csp = (2 * s12 + c2) / (s1 + s2 + c2);
            cs += csp;
            ssim += (2 * m1 * m2 + c1) / (m1 * m1 + m2 * m2 + c1) * csp;
        }
        return (ssim / mu1.Length, cs / mu1.Length);
    }

    private static double[] Mul(double[] a, double[] b)
    {
        var r = new double[a.Length];
        for (int i = 0; i < a.Length; i++) r[i] = a[i] * b[i];
        return r;
    }

    /// <summary>Valid separable filtering: rows then columns, output (h−k+1)×(w−k+1).</summary>
    private static double[] Filter(double[] img, int h, int w, double[] g)
    {
        int k = g.Length, oh = h - k + 1, ow = w - k + 1;
        var tmp = new double[h * ow];
        for (int r = 0; r < h; r++)
            for (int col = 0; col < ow; col++)
            {
                double s = 0;
                for (int t = 0; t < k; t++) s += img[r * w + col + t] * g[t];
                tmp[r * ow + col] = s;
            }
        var outp = new double[oh * ow];
        for (int r = 0; r < oh; r++)
            for (int col = 0; col < ow; col++)
            {
                double s = 0;
                for (int t = 0; t < k; t++) s += tmp[(r + t) * ow + col] * g[t];
                outp[r * ow + col] = s;
            }
        return outp;
    }

    /// <summary>F.avg_pool2d(kernel 2, stride 2, padding (h%2, w%2)), zero padding counted in the average.</summary>
    private static (double[], int, int) AvgPool2(double[] img, int h, int w)
    {
        int ph = h % 2, pw = w % 2;
        int oh = (h + 2 * ph - 2) / 2 + 1, ow = (w + 2 * pw - 2) / 2 + 1;
        var outp = new double[oh * ow];
        for (int r = 0; r < oh; r++)
            for (int col = 0; col < ow; col++)
            {
                double s = 0;
                for (int dr = 0; dr < 2; dr++)
                    for (int dc = 0; dc < 2; dc++)
                    {
                        int ir = r * 2 + dr - ph, ic = col * 2 + dc - pw;
                        if (ir >= 0 && ir < h && ic >= 0 && ic < w) s += img[ir * w + ic];
                    }
                outp[r * ow + col] = s / 4;
            }
        return (outp, oh, ow);
    }

    private static void CheckShapes(ReadOnlySpan<float> x, ReadOnlySpan<float> y, int n, int c, int h, int w, string metric)
    {
        long size = (long)n * c * h * w;
        if (x.Length != size || y.Length != size)
            throw new ArgumentException($"{metric}: images hold {x.Length} and {y.Length} values, expected [{n}, {c}, {h}, {w}] = {size}");
    }
}
