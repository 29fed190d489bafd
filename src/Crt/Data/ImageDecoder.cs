using SkiaSharp;

namespace Crt.Data;

/// <summary>
/// Decodes PNG, JPEG, WebP, BMP and GIF files through Skia (SkiaSharp's SKCodec) into a
/// <see cref="DecodedImage"/>, reading them as Pillow does. What comes out, and why:
/// <list type="bullet">
/// <item>No colour management: the destination has no colour space, so gAMA, cHRM, sRGB and ICC
///   profiles leave the samples as stored, as Pillow ignores them.</item>
/// <item>Alpha is requested unpremultiplied and then dropped, not composited onto a background: the
///   models take opaque pixels, and dropping is what Pillow's convert("RGB") does. Premultiplying first
///   would darken every translucent pixel.</item>
/// <item>Gray files give 1 channel (gray PNGs, with or without alpha, and gray JPEGs); every other file
///   gives 3 (RGB). A gray-palette BMP or GIF gives 3 equal channels where Pillow says "L": the same
///   samples, and <see cref="ImageChannels"/> turns them into the same gray.</item>
/// <item>16-bit PNG samples keep their high byte, as Pillow does (Skia's PNG reader strips the low byte
///   when no colour conversion is asked for).</item>
/// <item>Animated GIF and WebP give their first frame; JPEG EXIF orientation is not applied (Pillow
///   applies neither unless asked).</item>
/// </list>
/// The decompression-bomb limit (<see cref="DecodedImage.MaxPixels"/>) is checked against the size in the
/// file's header before any pixel buffer exists. A file Skia decodes only in part (truncated, or damaged
/// where it notices: PNG has checksums, the other formats mostly do not, as for Pillow) is rejected rather
/// than filled in. Every failure is one <see cref="InvalidDataException"/> whose message names the file,
/// the format and the problem.
/// </summary>
public static class ImageDecoder
{
    public static DecodedImage Decode(string path) => Decode(File.ReadAllBytes(path), path);

    /// <param name="name">The file's name, for error messages.</param>
    /// <exception cref="InvalidDataException">Not one of the five formats, corrupt, truncated or too large.</exception>
    /// <exception cref="NotSupportedException">Skia's native library cannot be loaded.</exception>
    public static DecodedImage Decode(byte[] data, string name)
    {
        if (data.Length == 0) throw new InvalidDataException($"{name}: the file is empty");
        var format = ImageFormats.Sniff(data)
            ?? throw new InvalidDataException($"{name}: not a PNG, JPEG, WebP, BMP or GIF file (its first bytes match none of them)");
        SkiaLibrary.EnsureAvailable();
        string what = ImageFormats.Name(format);

        using var stream = new SKMemoryStream(data);
        using var codec = SKCodec.Create(stream, out var opened);
        if (codec is null) throw Bad(name, what, Problem(opened, readingHeader: true));
        var info = codec.Info;
        // A GIF's header gives the canvas; its images come after. Skia "decodes" one whose images hold no pixels
        // into a blank canvas of the declared size (a 25-byte file: 162 megapixels, 9.5 s on a 2-core AMD EPYC with AVX-512); Pillow calls it truncated.
        if (format == ImageFormat.Gif && !codec.FrameInfo.Any(f => f.FrameRect.Width > 0 && f.FrameRect.Height > 0))
            throw Bad(name, what, "truncated: the header is there but no image with any pixels follows it");

        // What Skia reports as gray is decoded straight to 8-bit gray; a gray PNG with alpha or tRNS is
        // reported as colour and decoded to RGBA, of which one channel is kept.
        bool grayDecode = info.ColorType == SKColorType.Gray8;
        bool grayFile = grayDecode || (format == ImageFormat.Png && IsGrayPng(data));
        int bytesPerPixel = grayDecode ? 1 : 4;
        if (info.Width < 1 || info.Height < 1 || (long)info.Width * info.Height > DecodedImage.MaxPixels)
            throw Bad(name, what, $"image size {info.Width}×{info.Height} is empty or too large to decode (the limit is {DecodedImage.MaxPixels:N0} pixels, Pillow's decompression-bomb limit)");

        var target = new SKImageInfo(info.Width, info.Height,
            grayDecode ? SKColorType.Gray8 : SKColorType.Rgba8888,
            grayDecode ? SKAlphaType.Opaque : SKAlphaType.Unpremul); // ColorSpace stays null: no colour conversion
        var buffer = new byte[(long)info.Width * info.Height * bytesPerPixel];
        SKCodecResult decoded;
        unsafe
        {
            // .NET hands out zeroed arrays; saying so lets Skia skip clearing what it does not write.
            fixed (byte* p = buffer) decoded = codec.GetPixels(target, (IntPtr)p, target.RowBytes, new SKCodecOptions(SKZeroInitialized.Yes));
        }
        if (decoded != SKCodecResult.Success) throw Bad(name, what, Problem(decoded, readingHeader: false));

        if (grayDecode) return new DecodedImage(info.Width, info.Height, 1, buffer);
        return new DecodedImage(info.Width, info.Height, grayFile ? 1 : 3, DropAlpha(buffer, grayFile ? 1 : 3));
    }

    /// <summary>
    /// PNG colour types 0 (gray) and 4 (gray + alpha): byte 25 of the file, in the IHDR chunk that the PNG
    /// format puts first (Skia has already accepted the header, so it is there).
    /// </summary>
    private static bool IsGrayPng(byte[] data) => data.Length > 25 && data[25] is 0 or 4;

    /// <summary>The first <paramref name="channels"/> of each RGBA pixel (R for gray, RGB otherwise).</summary>
    private static byte[] DropAlpha(byte[] rgba, int channels)
    {
        long n = rgba.LongLength / 4;
        var dst = new byte[n * channels];
        if (channels == 1)
            for (long i = 0; i < n; i++) dst[i] = rgba[4 * i];
        else
            for (long i = 0; i < n; i++)
            {
                dst[3 * i] = rgba[4 * i];
                dst[3 * i + 1] = rgba[4 * i + 1];
                dst[3 * i + 2] = rgba[4 * i + 2];
            }
        return dst;
    }

    /// <summary>One phrase for a failed SKCodec call.</summary>
    private static string Problem(SKCodecResult result, bool readingHeader) => result switch
    {
        SKCodecResult.IncompleteInput or SKCodecResult.InvalidInput when readingHeader => "truncated or corrupt: the header cannot be read",
        // Skia also says "incomplete" when the compressed data breaks off unreadably (libpng, libjpeg): not always a short file.
        SKCodecResult.IncompleteInput => "truncated or corrupt: the image data stops before the last row",
        SKCodecResult.ErrorInInput => "corrupt image data (only part of the image could be decoded)",
        SKCodecResult.InvalidInput => "corrupt image data",
        SKCodecResult.Unimplemented => "corrupt, or uses a feature the decoder does not support",
        SKCodecResult.InvalidConversion => "cannot be converted to 8-bit RGB or gray",
        _ => $"cannot be decoded (Skia: {result})",
    };

    private static InvalidDataException Bad(string name, string format, string problem) => new($"{name}: {format}: {problem}");
}
