namespace Crt.Data;

/// <summary>
/// A decoded image as the decoders hand it over: 8-bit samples, row-major with the channels of a pixel
/// next to each other (HWC, the layout decoders produce), 1 channel (gray) or 3 (RGB). Preprocessing
/// works on this layout too; only the finished image is rearranged to the CHW planes of an ImageSet.
/// </summary>
public sealed class DecodedImage
{
    public int Width { get; }
    public int Height { get; }
    public int Channels { get; }
    public byte[] Pixels { get; }

    public DecodedImage(int width, int height, int channels, byte[] pixels)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"image size {width}×{height} must be at least 1×1");
        if (channels != 1 && channels != 3) throw new ArgumentException($"an image has 1 (gray) or 3 (RGB) channels, not {channels}");
        if (pixels.Length != (long)width * height * channels)
            throw new ArgumentException($"{pixels.Length} bytes are not a {width}×{height}×{channels} image");
        (Width, Height, Channels, Pixels) = (width, height, channels, pixels);
    }

    /// <summary>The largest decode buffer accepted (1 GiB: RGBA for colour, 1 byte a pixel for gray): bigger headers are corrupt or hostile.</summary>
    public const long MaxBytes = 1L << 30;
}
