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

    /// <summary>
    /// The most pixels a file may declare: Pillow's decompression-bomb limit (2 × Image.MAX_IMAGE_PIXELS, where Pillow
    /// raises DecompressionBombError). Larger headers are corrupt or hostile: fuzzing found a 60-byte GIF and a 211-byte
    /// JPEG declaring ~200 megapixels, which took 11–14 s and 1.4 GB each to decode within the old 1 GiB buffer limit.
    /// </summary>
    public const long MaxPixels = 2 * 89_478_485;
}
