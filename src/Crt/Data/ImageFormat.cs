namespace Crt.Data;

/// <summary>The image file formats crt reads.</summary>
public enum ImageFormat { Png, Jpeg, WebP, Bmp, Gif }

/// <summary>
/// Recognises a file's format by its first bytes (its signature) rather than its extension: real
/// collections hold PNGs named .jpg (ImageNet has one) and the bytes do not lie. Only these five
/// formats are accepted, although Skia would decode more (ICO, WBMP, …): the Pillow parity tests cover
/// these five, and nothing else should slip into a data set unnoticed.
/// </summary>
public static class ImageFormats
{
    public static string Name(ImageFormat format) => format switch
    {
        ImageFormat.Png => "PNG",
        ImageFormat.Jpeg => "JPEG",
        ImageFormat.WebP => "WebP",
        ImageFormat.Bmp => "BMP",
        _ => "GIF",
    };

    /// <summary>The format whose signature the data starts with, or null when none does.</summary>
    public static ImageFormat? Sniff(ReadOnlySpan<byte> data)
    {
        if (data.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A])) return ImageFormat.Png;
        if (data.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF])) return ImageFormat.Jpeg;
        if (data.Length >= 12 && data.StartsWith("RIFF"u8) && data[8..12].SequenceEqual("WEBP"u8)) return ImageFormat.WebP;
        if (data.StartsWith("GIF87a"u8) || data.StartsWith("GIF89a"u8)) return ImageFormat.Gif;
        if (data.StartsWith("BM"u8)) return ImageFormat.Bmp;
        return null;
    }
}
