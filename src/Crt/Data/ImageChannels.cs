namespace Crt.Data;

/// <summary>Gray ↔ RGB conversion of decoded images, bit-exact with Pillow's convert("L") and convert("RGB").</summary>
public static class ImageChannels
{
    /// <summary>The image with <paramref name="channels"/> channels (1 or 3); the same object when it already has them.</summary>
    public static DecodedImage Convert(DecodedImage image, int channels)
    {
        if (channels != 1 && channels != 3) throw new ArgumentException($"channels {channels}: images have 1 (gray) or 3 (RGB)");
        if (image.Channels == channels) return image;
        int n = image.Width * image.Height;
        var src = image.Pixels;
        var dst = new byte[(long)n * channels];
        if (channels == 1)
            // ITU-R 601-2 luma, L = (299 R + 587 G + 114 B) / 1000, in Pillow's 16-bit fixed point with rounding.
            for (int i = 0; i < n; i++)
                dst[i] = (byte)((src[3 * i] * 19595 + src[3 * i + 1] * 38470 + src[3 * i + 2] * 7471 + 0x8000) >> 16);
        else
            for (int i = 0; i < n; i++) dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = src[i];
        return new DecodedImage(image.Width, image.Height, channels, dst);
    }
}
