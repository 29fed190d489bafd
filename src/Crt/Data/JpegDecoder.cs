using System.Runtime.InteropServices;

namespace Crt.Data;

/// <summary>
/// Decodes JPEG files through libjpeg-turbo's TurboJPEG library (Debian 12: package libturbojpeg0,
/// version 2.1.5, so the TurboJPEG 2 API: tjInitDecompress, tjDecompressHeader3, tjDecompress2). A gray
/// JPEG gives 1 channel, a colour one 3 (RGB). Decoding uses libjpeg's defaults — accurate integer IDCT
/// and smooth ("fancy") chroma upsampling — which are also PIL's, so both read the same pixels.
/// Warnings count as errors: a JPEG the library can only partly decode (truncated, corrupt entropy data)
/// is rejected rather than filled with gray. CMYK/YCCK JPEGs are not supported.
/// </summary>
public static unsafe class JpegDecoder
{
    public const string Library = "libturbojpeg.so.0";
    public const string Package = "libturbojpeg0";

    private const int PixelFormatRgb = 0, PixelFormatGray = 6; // TJPF_RGB, TJPF_GRAY
    private const int SubsampGray = 3;                          // TJSAMP_GRAY
    private const int ColorspaceCmyk = 3, ColorspaceYcck = 4;   // TJCS_CMYK, TJCS_YCCK
    private const int FlagAccurateDct = 4096;                   // TJFLAG_ACCURATEDCT (the default, stated)

    [DllImport(Library)] private static extern nint tjInitDecompress();
    [DllImport(Library)] private static extern int tjDestroy(nint handle);
    [DllImport(Library)] private static extern nint tjGetErrorStr2(nint handle);
    [DllImport(Library)]
    private static extern int tjDecompressHeader3(nint handle, byte* jpeg, CULong size, int* width, int* height, int* subsamp, int* colorspace);
    [DllImport(Library)]
    private static extern int tjDecompress2(nint handle, byte* jpeg, CULong size, byte* dst, int width, int pitch, int height, int pixelFormat, int flags);

    private static readonly Lazy<bool> Loaded = new(() => NativeLibrary.TryLoad(Library, typeof(JpegDecoder).Assembly, null, out _));

    public static bool IsJpeg(ReadOnlySpan<byte> data) => data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;

    /// <summary>Whether libturbojpeg can be loaded.</summary>
    public static bool Available => Loaded.Value;

    /// <summary>Throws the one message that says what to install when libturbojpeg cannot be loaded.</summary>
    public static void EnsureAvailable()
    {
        if (!Available)
            throw new NotSupportedException($"reading JPEG files needs libjpeg-turbo's TurboJPEG library ({Library}), which is not installed; install it with: apt-get install {Package}");
    }

    public static DecodedImage Decode(string path) => Decode(File.ReadAllBytes(path), path);

    /// <param name="name">The file's name, for error messages.</param>
    public static DecodedImage Decode(byte[] data, string name)
    {
        if (!IsJpeg(data)) throw Bad(name, "the JPEG start-of-image marker (FF D8 FF) is missing");
        EnsureAvailable();
        nint handle = tjInitDecompress();
        if (handle == 0) throw new InvalidOperationException("tjInitDecompress failed (out of memory?)");
        try
        {
            fixed (byte* src = data)
            {
                int width, height, subsamp, colorspace;
                if (tjDecompressHeader3(handle, src, new CULong((nuint)data.Length), &width, &height, &subsamp, &colorspace) != 0)
                    throw Bad(name, Error(handle));
                if (colorspace is ColorspaceCmyk or ColorspaceYcck) throw Bad(name, "CMYK JPEGs are not supported (convert the file to RGB)");
                int channels = subsamp == SubsampGray ? 1 : 3;
                if (width < 1 || height < 1 || (long)width * height * channels > DecodedImage.MaxBytes)
                    throw Bad(name, $"image size {width}×{height} is empty or too large to decode");
                var pixels = new byte[(long)width * height * channels];
                fixed (byte* dst = pixels)
                    if (tjDecompress2(handle, src, new CULong((nuint)data.Length), dst, width, width * channels, height,
                            channels == 1 ? PixelFormatGray : PixelFormatRgb, FlagAccurateDct) != 0)
                        throw Bad(name, Error(handle)); // TurboJPEG 2 returns −1 on warnings too: a partly decoded image is not accepted
                return new DecodedImage(width, height, channels, pixels);
            }
        }
        finally { tjDestroy(handle); }
    }

    private static string Error(nint handle) => (Marshal.PtrToStringUTF8(tjGetErrorStr2(handle)) ?? "unknown error").TrimEnd('.', ' ', '\n');

    private static InvalidDataException Bad(string name, string problem) => new($"{name}: JPEG: {problem}");
}
