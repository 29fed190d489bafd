using Crt.Tensors;

namespace Crt.Data;

/// <summary>Tiles a batch of images in [−1, 1] into one PNG (torchvision's make_grid + save_image, 2-pixel gaps).</summary>
public static class ImageGrid
{
    public static void Save(string path, Tensor images, int columns, int gap = 2)
    {
        if (images.Rank != 4 || (images.Shape[1] != 1 && images.Shape[1] != 3))
            throw new ArgumentException($"image grid: expected [B, 1 or 3, H, W] images, got {ShapeUtil.Format(images.Shape)}");
        int b = images.Shape[0], c = images.Shape[1], h = images.Shape[2], w = images.Shape[3];
        columns = Math.Max(1, Math.Min(columns, b));
        int rows = (b + columns - 1) / columns;
        int gw = columns * (w + gap) + gap, gh = rows * (h + gap) + gap;
        var pixels = new byte[gw * gh * c];
        Array.Fill(pixels, (byte)255);
        var src = images.ReadOnlySpan;
        for (int i = 0; i < b; i++)
        {
            int ox = gap + i % columns * (w + gap), oy = gap + i / columns * (h + gap);
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        pixels[((oy + y) * gw + ox + x) * c + ch] = ToByte(src[((i * c + ch) * h + y) * w + x]);
        }
        PngWriter.Write(path, pixels, gw, gh, c);
    }

    /// <summary>[−1, 1] → [0, 255], rounded and clamped (NaN becomes 0).</summary>
    public static byte ToByte(float v)
    {
        float s = (v + 1f) * 127.5f + 0.5f;
        return s >= 255f ? (byte)255 : s > 0f ? (byte)s : (byte)0;
    }
}
