using Crt.Tensors;

namespace Crt.Data;

/// <summary>
/// Training augmentation on [B, C, H, W] batches: a random square crop covering a fraction
/// s ~ U[min, 1] of each side, resized back (bilinear, half-pixel centres as PyTorch's
/// align_corners = False), and a horizontal flip with probability p.
/// </summary>
public static class Augment
{
    public static Tensor RandomResizedCropAndFlip(Tensor x, Rng rng, float minScale, float flipProbability)
    {
        if (x.Rank != 4) throw new ArgumentException($"augment: expected [B, C, H, W], got {ShapeUtil.Format(x.Shape)}");
        int b = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        var y = Tensor.Empty(x.Shape);
        var src = x.ReadOnlySpan; var dst = y.Span;
        for (int i = 0; i < b; i++)
        {
            double s = minScale + (1 - minScale) * rng.NextDouble();
            int ch = Math.Max(1, (int)Math.Round(s * h)), cw = Math.Max(1, (int)Math.Round(s * w));
            int top = rng.NextInt(h - ch + 1), left = rng.NextInt(w - cw + 1);
            bool flip = rng.NextDouble() < flipProbability;
            for (int k = 0; k < c; k++)
            {
                var plane = src.Slice((i * c + k) * h * w, h * w);
                var outPlane = dst.Slice((i * c + k) * h * w, h * w);
                ResizeBilinear(plane, w, top, left, ch, cw, outPlane, h, w, flip);
            }
        }
        return y;
    }

    /// <summary>Resizes the window [top, top+ch) × [left, left+cw) of a plane to oh × ow, optionally mirrored.</summary>
    public static void ResizeBilinear(ReadOnlySpan<float> plane, int stride, int top, int left, int ch, int cw,
        Span<float> output, int oh, int ow, bool flip = false)
    {
        double sy = (double)ch / oh, sx = (double)cw / ow;
        for (int oy = 0; oy < oh; oy++)
        {
            double fy = Math.Clamp((oy + 0.5) * sy - 0.5, 0, ch - 1);
            int y0 = (int)fy, y1 = Math.Min(y0 + 1, ch - 1);
            double wy = fy - y0;
            for (int ox = 0; ox < ow; ox++)
            {
                double fx = Math.Clamp((ox + 0.5) * sx - 0.5, 0, cw - 1);
                int x0 = (int)fx, x1 = Math.Min(x0 + 1, cw - 1);
                double wx = fx - x0;
                double v00 = plane[(top + y0) * stride + left + x0], v01 = plane[(top + y0) * stride + left + x1];
                double v10 = plane[(top + y1) * stride + left + x0], v11 = plane[(top + y1) * stride + left + x1];
                double v = (v00 * (1 - wx) + v01 * wx) * (1 - wy) + (v10 * (1 - wx) + v11 * wx) * wy;
                output[oy * ow + (flip ? ow - 1 - ox : ox)] = (float)v;
            }
        }
    }
}
