namespace Crt.Data;

/// <summary>
/// Reads one image file, PNG or JPEG, chosen by the file's first bytes rather than its extension:
/// real collections hold PNGs named .jpg (ImageNet has one) and the bytes do not lie.
/// </summary>
public static class ImageFile
{
    /// <summary>The extensions an image folder picks up (compared case-insensitively).</summary>
    public static readonly string[] Extensions = { ".png", ".jpg", ".jpeg" };

    public static bool HasImageExtension(string path) =>
        Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    /// <exception cref="InvalidDataException">The file is neither PNG nor JPEG, or is corrupt; the message names it.</exception>
    /// <exception cref="NotSupportedException">A JPEG, and libturbojpeg is not installed.</exception>
    public static DecodedImage Read(string path)
    {
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{path}: cannot be read ({e.Message.TrimEnd('.')})", e);
        }
        if (PngDecoder.IsPng(data)) return PngDecoder.Decode(data, path);
        if (JpegDecoder.IsJpeg(data)) return JpegDecoder.Decode(data, path);
        throw new InvalidDataException(data.Length == 0 ? $"{path}: the file is empty" : $"{path}: neither a PNG nor a JPEG file (its first bytes match neither)");
    }
}
