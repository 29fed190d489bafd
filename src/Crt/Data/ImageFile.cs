namespace Crt.Data;

/// <summary>
/// Reads one image file: PNG, JPEG, WebP, BMP or GIF, recognised by its first bytes rather than its
/// extension (<see cref="ImageFormats.Sniff"/>), decoded by <see cref="ImageDecoder"/>.
/// </summary>
public static class ImageFile
{
    /// <summary>The extensions an image folder picks up (compared case-insensitively).</summary>
    public static readonly string[] Extensions = { ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif" };

    /// <summary>The extensions as a message lists them: ".png, .jpg, .jpeg, .webp, .bmp or .gif".</summary>
    public static string ExtensionList => string.Join(", ", Extensions[..^1]) + " or " + Extensions[^1];

    public static bool HasImageExtension(string path) =>
        Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    /// <exception cref="InvalidDataException">The file cannot be read, is none of the five formats, or is corrupt; the message names it.</exception>
    /// <exception cref="NotSupportedException">Skia's native library cannot be loaded.</exception>
    public static DecodedImage Read(string path)
    {
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{path}: cannot be read ({e.Message.TrimEnd('.')})", e);
        }
        return ImageDecoder.Decode(data, path);
    }
}
