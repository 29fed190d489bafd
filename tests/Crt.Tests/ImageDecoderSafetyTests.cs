using System.Buffers.Binary;
using Crt.Data;
using Xunit;
using Xunit.Abstractions;

namespace Crt.Tests;

/// <summary>Hostile and broken files of every format: one clear error naming the file, and no huge buffer for a huge header.</summary>
public class ImageDecoderSafetyTests(ITestOutputHelper output)
{
    private static byte[] Fixture(string relative) => File.ReadAllBytes(Path.Combine(ImageFixtures.Dir, relative));

    /// <summary>
    /// Headers that claim a picture of several GiB are refused from the header, before a pixel buffer
    /// exists: the test decodes with a few bytes of image data and checks that the thread allocated far
    /// less than the claimed size.
    /// </summary>
    [Theory]
    [InlineData("png")]
    [InlineData("jpeg")]
    [InlineData("bmp")]
    [InlineData("gif")]
    public void HugeHeadersAreRefusedBeforeAnyPixelBufferIsAllocated(string format)
    {
        var (bytes, w, h, name) = format switch
        {
            "png" => (PngDecoderTests.Png(PngDecoderTests.Ihdr(40000, 30000, 8, 2), ("IDAT", PngDecoderTests.Compress(new byte[64]))), 40000, 30000, "PNG"),
            "jpeg" => (JpegWithSize(Fixture("jpeg/rgb.jpg"), 60000, 50000), 60000, 50000, "JPEG"),
            "bmp" => (BmpWithSize(Fixture("bmp/rgb24.bmp"), 40000, 30000), 40000, 30000, "BMP"),
            _ => (GifWithSize(Fixture("gif/small.gif"), 65535, 65535), 65535, 65535, "GIF"),
        };
        long before = GC.GetAllocatedBytesForCurrentThread();
        var message = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(bytes, "x/huge")).Message;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"{format}: {message} ({allocated} bytes allocated)");
        Assert.Equal($"x/huge: {name}: image size {w}×{h} is empty or too large to decode (the limit is 178,956,970 pixels, Pillow's decompression-bomb limit)", message);
        Assert.True(allocated < 16 << 20, $"{allocated} bytes allocated for a refused image");
    }

    /// <summary>The limit is Pillow's: 178,956,970 pixels pass, one more does not (gray or colour alike).</summary>
    [Fact]
    public void TheLimitIsPillowsDecompressionBombLimit()
    {
        // 13378×13377 = 178,957,506 pixels: just over the limit; 13377×13377 = 178,944,129: under it.
        var over = PngDecoderTests.Png(PngDecoderTests.Ihdr(13378, 13377, 8, 0), ("IDAT", PngDecoderTests.Compress(new byte[64])));
        Assert.Contains("too large", Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(over, "x/g.png")).Message);
        var under = PngDecoderTests.Png(PngDecoderTests.Ihdr(13377, 13377, 8, 0), ("IDAT", PngDecoderTests.Compress(new byte[64])));
        Assert.DoesNotContain("too large", Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(under, "x/g.png")).Message); // refused as truncated instead
    }

    /// <summary>
    /// Found by the fuzzer (fuzz/crashes/image/hangs-602db3af28a9): a 25-byte GIF with a logical screen of
    /// 11,264 × 14,406 (under the limit) and one image of 0 × 59 pixels in it took 9.5 s and 1.1 GB to "decode" into a blank canvas.
    /// Pillow refuses it as truncated; so does crt, from the header.
    /// </summary>
    [Fact]
    public void AGifWithoutAnImageIsRefusedAsTruncated()
    {
        var gif = new byte[] { (byte)'G', (byte)'I', (byte)'F', (byte)'8', (byte)'7', (byte)'a', 0x00, 0x2c, 0x46, 0x38, 0x37, 0x61, 0x00, 0x2c,
                               0, 0, 0, 0, 0, 0, 0x3b, 0, 0, 0, 0 };
        long before = GC.GetAllocatedBytesForCurrentThread();
        var message = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(gif, "x/empty.gif")).Message;
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "a canvas was allocated for a GIF without an image");
        Assert.Equal("x/empty.gif: GIF: truncated: the header is there but no image with any pixels follows it", message);
    }

    public static IEnumerable<object[]> OneFileOfEachFormat() => new[]
    {
        new object[] { "png/rgb8.png", "PNG" }, new object[] { "jpeg/rgb.jpg", "JPEG" }, new object[] { "webp/lossy_rgb.webp", "WebP" },
        new object[] { "webp/lossless_rgba.webp", "WebP" }, new object[] { "bmp/rgb24.bmp", "BMP" }, new object[] { "gif/p.gif", "GIF" },
    };

    [Theory]
    [MemberData(nameof(OneFileOfEachFormat))]
    public void TruncatedFilesAreRejectedNotFilledIn(string fixture, string format)
    {
        var good = Fixture(fixture);
        var message = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(good[..(good.Length / 2)], "x/cut")).Message;
        output.WriteLine($"{fixture} cut in half: {message}");
        Assert.StartsWith($"x/cut: {format}: ", message);
        Assert.DoesNotContain('\n', message);
    }

    [Theory]
    [MemberData(nameof(OneFileOfEachFormat))]
    public void AGarbledHeaderIsOneError(string fixture, string format)
    {
        var good = Fixture(fixture);
        int keep = format switch { "WebP" => 12, "PNG" => 8, "GIF" => 6, "BMP" => 2, _ => 3 }; // the signature
        var garbled = good[..keep].Concat(Enumerable.Range(0, 60).Select(i => (byte)(i * 37 + 11))).ToArray();
        var message = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(garbled, "x/garbled")).Message;
        output.WriteLine($"{fixture} garbled: {message}");
        Assert.StartsWith($"x/garbled: {format}: ", message);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void OtherFormatsSkiaCouldReadAreRefused()
    {
        // An ICO file holding the BMP fixture (Skia decodes ICO; the parity tests do not cover it).
        var bmp = Fixture("bmp/rgb24.bmp");
        var ico = new byte[] { 0, 0, 1, 0, 1, 0 }.Concat(new byte[16]).Concat(bmp[14..]).ToArray();
        Assert.Equal("x/a.ico: not a PNG, JPEG, WebP, BMP or GIF file (its first bytes match none of them)",
            Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(ico, "x/a.ico")).Message);
        Assert.Null(ImageFormats.Sniff("RIFF\0\0\0\0WAVEfmt "u8));
        Assert.Equal(ImageFormat.WebP, ImageFormats.Sniff(Fixture("webp/lossy_rgb.webp")));
        Assert.Equal(ImageFormat.Gif, ImageFormats.Sniff(Fixture("gif/p.gif")));
        Assert.Equal(ImageFormat.Bmp, ImageFormats.Sniff(Fixture("bmp/p8.bmp")));
    }

    // ---- headers made to claim a huge size --------------------------------------------------------

    /// <summary>The JPEG with its frame header (SOF0, baseline, as Pillow writes it) claiming w×h.</summary>
    private static byte[] JpegWithSize(byte[] jpeg, int w, int h)
    {
        var b = (byte[])jpeg.Clone();
        int sof = b.AsSpan().IndexOf(new byte[] { 0xFF, 0xC0 });
        Assert.True(sof > 0, "no SOF0 marker");
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(sof + 5), (ushort)h);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(sof + 7), (ushort)w);
        return b;
    }

    /// <summary>The BMP with its info header claiming w×h (width at byte 18, height at 22, little-endian).</summary>
    private static byte[] BmpWithSize(byte[] bmp, int w, int h)
    {
        var b = (byte[])bmp.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(18), w);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(22), h);
        return b;
    }

    /// <summary>The GIF with its logical screen (bytes 6–9) and first image descriptor claiming w×h.</summary>
    private static byte[] GifWithSize(byte[] gif, int w, int h)
    {
        var b = (byte[])gif.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(6), (ushort)w);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(8), (ushort)h);
        int table = (b[10] & 0x80) != 0 ? 3 << ((b[10] & 7) + 1) : 0;
        int pos = 13 + table;
        while (b[pos] == 0x21) // extension blocks: introducer, label, sub-blocks up to a zero length
        {
            pos += 2;
            while (b[pos] != 0) pos += b[pos] + 1;
            pos++;
        }
        Assert.Equal(0x2C, b[pos]); // image descriptor: left, top, width, height
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(pos + 5), (ushort)w);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(pos + 7), (ushort)h);
        return b;
    }
}
