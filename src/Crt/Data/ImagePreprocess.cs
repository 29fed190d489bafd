namespace Crt.Data;

/// <summary>How a decoded image of any size becomes a square one.</summary>
public enum ResizeMode
{
    /// <summary>
    /// ADM's center_crop_arr (guided-diffusion; LlamaGen uses it too): while the shorter side is at least
    /// twice the target, halve the image with a box filter; then scale it bicubically so the shorter side
    /// is the target; then cut the centre square. Keeps the aspect ratio, loses the ends of the longer side.
    /// </summary>
    CenterCrop,
    /// <summary>The whole image squeezed to size × size with the box (area) filter: nothing cut, aspect ratio not kept.</summary>
    Area,
    /// <summary>The whole image squeezed to size × size with the bicubic filter: nothing cut, aspect ratio not kept.</summary>
    Bicubic,
}

/// <summary>What every image of an image folder is turned into: a Size × Size square with Channels channels.</summary>
public sealed record ImageOptions(int Size, int Channels, ResizeMode Resize = ResizeMode.CenterCrop)
{
    public void Validate()
    {
        if (Size < 1) throw new ArgumentException($"image_size {Size} must be at least 1");
        if (Channels != 1 && Channels != 3) throw new ArgumentException($"channels {Channels} must be 1 (gray) or 3 (RGB)");
    }
}

/// <summary>
/// Turns a decoded image into the CHW bytes of one ImageSet entry: channel conversion first (as the
/// Python pipelines call convert("RGB") / convert("L") before resizing), then the resize mode.
/// </summary>
public static class ImagePreprocess
{
    private static readonly (string Name, ResizeMode Mode)[] Modes =
        { ("center-crop", ResizeMode.CenterCrop), ("area", ResizeMode.Area), ("bicubic", ResizeMode.Bicubic) };

    public static ResizeMode ParseMode(string name) =>
        Modes.FirstOrDefault(m => m.Name == name) is { Name: not null } found ? found.Mode
            : throw new ArgumentException($"resize '{name}' is not a resize mode; valid modes: {string.Join(", ", Modes.Select(m => m.Name))}");

    /// <summary>The image as options.Channels planes of options.Size × options.Size bytes.</summary>
    public static byte[] Apply(DecodedImage image, ImageOptions options)
    {
        var img = ImageChannels.Convert(image, options.Channels);
        int s = options.Size;
        img = options.Resize switch
        {
            ResizeMode.CenterCrop => CenterCrop(img, s),
            ResizeMode.Area => ImageResize.Resize(img, s, s, ResampleFilter.Box),
            _ => ImageResize.Resize(img, s, s, ResampleFilter.Bicubic),
        };
        return ToPlanes(img);
    }

    /// <summary>guided-diffusion's center_crop_arr, step for step (see <see cref="ResizeMode.CenterCrop"/>).</summary>
    public static DecodedImage CenterCrop(DecodedImage image, int size)
    {
        var img = image;
        // Box-halving first: Pillow versions without reducing_gap would alias in one big bicubic step.
        while (Math.Min(img.Width, img.Height) >= 2 * size)
            img = ImageResize.Resize(img, img.Width / 2, img.Height / 2, ResampleFilter.Box);
        double scale = (double)size / Math.Min(img.Width, img.Height);
        // Python's round() rounds halves to even, as Math.Round does by default.
        int w = (int)Math.Round(img.Width * scale), h = (int)Math.Round(img.Height * scale);
        img = ImageResize.Resize(img, w, h, ResampleFilter.Bicubic);
        return Crop(img, (w - size) / 2, (h - size) / 2, size, size);
    }

    public static DecodedImage Crop(DecodedImage image, int left, int top, int width, int height)
    {
        if (left < 0 || top < 0 || left + width > image.Width || top + height > image.Height)
            throw new ArgumentException($"crop: [{left}, {left + width}) × [{top}, {top + height}) is outside the {image.Width}×{image.Height} image");
        int c = image.Channels;
        var dst = new byte[(long)width * height * c];
        for (int y = 0; y < height; y++)
            image.Pixels.AsSpan(((top + y) * image.Width + left) * c, width * c).CopyTo(dst.AsSpan(y * width * c));
        return new DecodedImage(width, height, c, dst);
    }

    /// <summary>HWC interleaved → CHW planes (the ImageSet layout).</summary>
    public static byte[] ToPlanes(DecodedImage image)
    {
        int c = image.Channels, n = image.Width * image.Height;
        if (c == 1) return image.Pixels;
        var dst = new byte[(long)n * c];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < c; k++) dst[k * n + i] = image.Pixels[i * c + k];
        return dst;
    }
}
