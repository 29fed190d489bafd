using SkiaSharp;

namespace Crt.Data;

/// <summary>
/// Whether SkiaSharp's native library (libSkiaSharp, shipped in the NuGet package next to the
/// binaries) loads. It always should; when it does not (a platform without a native build, a copy of the
/// program without its runtimes/ folder), one sentence says so instead of a stack trace per image.
/// </summary>
public static class SkiaLibrary
{
    private static readonly Lazy<Exception?> LoadError = new(() =>
    {
        try
        {
            using var probe = new SKMemoryStream(new byte[1]); // the first call into the native library
            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or BadImageFormatException or InvalidOperationException)
        {
            return e;
        }
    });

    public static bool Available => LoadError.Value is null;

    /// <exception cref="NotSupportedException">The native library cannot be loaded.</exception>
    public static void EnsureAvailable()
    {
        if (LoadError.Value is { } e)
            throw new NotSupportedException($"reading image files needs SkiaSharp's native library (libSkiaSharp), which could not be loaded: {(e.InnerException ?? e).Message.TrimEnd('.')}");
    }
}
