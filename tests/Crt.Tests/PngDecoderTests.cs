using System.Buffers.Binary;
using System.IO.Compression;
using Crt.Data;
using Xunit;
using Xunit.Abstractions;

namespace Crt.Tests;

public class PngDecoderTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Fixtures() =>
        Directory.GetFiles(Path.Combine(ImageFixtures.Dir, "png"), "*.png").Order(StringComparer.Ordinal).Select(f => new object[] { Path.GetFileNameWithoutExtension(f) });

    [Fact]
    public void TheFixturesCoverEveryColourTypeDepthAndInterlace() =>
        Assert.Equal(26, Fixtures().Count()); // 15 plain + 6 Adam7 + 1 tiny Adam7 + 4 written by PIL

    /// <summary>Every colour type and bit depth, interlaced or not, all five filters, split IDATs: exactly what PIL reads (alpha dropped, 16 bits → high byte).</summary>
    [Theory]
    [MemberData(nameof(Fixtures))]
    public void DecodesAsPilDoes(string stem)
    {
        var expected = ImageFixtures.Load("png_expected.safetensors", stem);
        var actual = ImageDecoder.Decode(Path.Combine(ImageFixtures.Dir, "png", stem + ".png"));
        Assert.Equal(0, ImageFixtures.MaxDiff(expected, actual, stem));
    }

    [Fact]
    public void ReadsWhatPngWriterWrites()
    {
        var rng = new Crt.Tensors.Rng(3);
        foreach (int channels in new[] { 1, 3 })
        {
            var pixels = Enumerable.Range(0, 7 * 5 * channels).Select(_ => (byte)rng.NextInt(256)).ToArray();
            var path = Path.Combine(Path.GetTempPath(), $"crt-png-{Guid.NewGuid():N}.png");
            try
            {
                PngWriter.Write(path, pixels, 7, 5, channels);
                var img = ImageDecoder.Decode(path);
                Assert.Equal((7, 5, channels), (img.Width, img.Height, img.Channels));
                Assert.Equal(pixels, img.Pixels);
            }
            finally { File.Delete(path); }
        }
    }

    [Fact]
    public void CorruptAndTruncatedFilesNameTheFileAndTheProblem()
    {
        var good = File.ReadAllBytes(Path.Combine(ImageFixtures.Dir, "png", "rgb8.png"));
        var raw = Rows(new byte[6 * 3], 3, filter: 0);
        var z = Compress(raw);
        var cases = new (string Label, byte[] Bytes, string Problem)[]
        {
            ("IDAT CRC mismatch", Flip(good, IndexOf(good, "IDAT") + 10), "corrupt image data (only part of the image could be decoded)"),
            ("cut in half", good[..(good.Length / 2)], "truncated or corrupt: the image data stops before the last row"),
            ("compressed data cut", Png(Ihdr(6, 3, 8, 0), ("IDAT", z[..(z.Length / 2)])), "corrupt image data (only part"), // the file is whole, the zlib stream is not
            ("bad zlib stream", Png(Ihdr(6, 3, 8, 0), ("IDAT", new byte[] { 0x78, 0x9C, 0xFF, 0xFF, 0xFF, 0xFF })), "truncated or corrupt: the image data stops"),
            ("bit depth 3 for gray", Png(Ihdr(6, 3, 3, 0), ("IDAT", z)), "truncated or corrupt: the header cannot be read"),
            ("bit depth 4 for RGB", Png(Ihdr(6, 3, 4, 2), ("IDAT", z)), "truncated or corrupt: the header cannot be read"),
            ("filter type 5", Png(Ihdr(6, 3, 8, 0), ("IDAT", Compress(Rows(new byte[18], 3, filter: 5)))), "corrupt image data (only part"),
            ("palette without PLTE", Png(Ihdr(6, 3, 8, 3), ("IDAT", z)), "corrupt image data"),
            ("no IDAT", Png(Ihdr(6, 3, 8, 0)), "truncated or corrupt: the header cannot be read"),
        };
        var messages = cases.Select(c => Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(c.Bytes, "x/bad.png")).Message).ToArray();
        for (int i = 0; i < cases.Length; i++) output.WriteLine($"{cases[i].Label}: {messages[i]}");
        for (int i = 0; i < cases.Length; i++)
        {
            Assert.StartsWith($"x/bad.png: PNG: {cases[i].Problem}", messages[i]);
            Assert.DoesNotContain('\n', messages[i]);
        }
    }

    /// <summary>gAMA, cHRM and sRGB describe colours; Pillow ignores them and so must crt (no colour conversion), whatever they say.</summary>
    [Fact]
    public void ColourMetadataLeavesTheSamplesAsStored()
    {
        var gamma1 = new byte[] { 0, 1, 0x86, 0xA0 };  // gAMA 100000: linear light, far from sRGB's 45455
        var chrm = new byte[32];                          // cHRM: D65 white and the Rec. 2020 primaries, far from sRGB's
        int[] xy = { 31270, 32900, 70800, 29200, 17000, 79700, 13100, 4600 };
        for (int i = 0; i < 8; i++) BinaryPrimitives.WriteInt32BigEndian(chrm.AsSpan(4 * i), xy[i]);
        var rgb = new byte[] { 0, 10, 200, 90, 128, 255 };
        var png = Png(Ihdr(2, 1, 8, 2), ("gAMA", gamma1), ("cHRM", chrm), ("IDAT", Compress(Rows(rgb, 1, filter: 0))));
        Assert.Equal(rgb, ImageDecoder.Decode(png, "t.png").Pixels);

        var gray = new byte[] { 3, 77, 250 };
        var graySrgb = Png(Ihdr(3, 1, 8, 0), ("sRGB", new byte[] { 0 }), ("gAMA", gamma1), ("IDAT", Compress(Rows(gray, 1, filter: 0))));
        Assert.Equal(gray, ImageDecoder.Decode(graySrgb, "t.png").Pixels);
    }

    /// <summary>A gray PNG with a tRNS chunk is still gray: 1 channel, the samples unchanged (alpha dropped).</summary>
    [Fact]
    public void GrayWithTransparencyStaysGray()
    {
        var gray = new byte[] { 0, 77, 77, 250 };
        var png = Png(Ihdr(4, 1, 8, 0), ("tRNS", new byte[] { 0, 77 }), ("IDAT", Compress(Rows(gray, 1, filter: 0))));
        var img = ImageDecoder.Decode(png, "t.png");
        Assert.Equal(1, img.Channels);
        Assert.Equal(gray, img.Pixels);
    }

    /// <summary>
    /// A malformed palette image whose indices point past its PLTE entries. Nobody agrees: Skia pads the
    /// palette with its last entry, Pillow 9.4 with a gray ramp (index i → (i, i, i)), the decoder crt had
    /// before refused the file. crt reads what Skia reads; this pins it.
    /// </summary>
    [Fact]
    public void PaletteIndicesPastThePaletteTakeItsLastEntry()
    {
        var indices = new byte[] { 0, 1, 2, 2, 1, 0 };
        var png = Png(Ihdr(6, 1, 8, 3), ("PLTE", new byte[] { 10, 20, 30, 40, 50, 60 }), ("IDAT", Compress(Rows(indices, 1, filter: 0))));
        var img = ImageDecoder.Decode(png, "t.png");
        Assert.Equal(new byte[] { 10, 20, 30, 40, 50, 60, 40, 50, 60, 40, 50, 60, 40, 50, 60, 10, 20, 30 }, img.Pixels);
    }

    [Fact]
    public void AncillaryChunksAreSkippedAndFiltersUndone()
    {
        // Sub filter on a 2-pixel gray row: stored deltas 10, 5 mean pixels 10, 15.
        var raw = new byte[] { 1, 10, 5 };
        var img = ImageDecoder.Decode(Png(Ihdr(2, 1, 8, 0), ("gAMA", new byte[4]), ("IDAT", Compress(raw)), ("tEXt", "k\0v"u8.ToArray())), "t.png");
        Assert.Equal(new byte[] { 10, 15 }, img.Pixels);
        // An unknown chunk marked critical (uppercase first letter) is skipped too, as Pillow skips it (crt's own decoder refused it).
        img = ImageDecoder.Decode(Png(Ihdr(2, 1, 8, 0), ("ABCD", new byte[2]), ("IDAT", Compress(raw))), "t.png");
        Assert.Equal(new byte[] { 10, 15 }, img.Pixels);
    }

    // ---- building small PNGs by hand --------------------------------------------------------------

    private static byte[] Flip(byte[] data, int at)
    {
        var copy = (byte[])data.Clone();
        copy[at] ^= 0x40;
        return copy;
    }

    internal static int IndexOf(byte[] data, string type)
    {
        var t = System.Text.Encoding.ASCII.GetBytes(type);
        return data.AsSpan().IndexOf(t);
    }

    internal static (string, byte[]) Ihdr(int w, int h, int depth, int colorType)
    {
        var b = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(b, w);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), h);
        b[8] = (byte)depth; b[9] = (byte)colorType;
        return ("IHDR", b);
    }

    internal static byte[] Rows(byte[] pixels, int height, int filter)
    {
        int stride = pixels.Length / height;
        var raw = new List<byte>();
        for (int y = 0; y < height; y++) { raw.Add((byte)filter); raw.AddRange(pixels.AsSpan(y * stride, stride).ToArray()); }
        return raw.ToArray();
    }

    internal static byte[] Compress(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, CompressionLevel.Optimal)) z.Write(raw);
        return ms.ToArray();
    }

    internal static byte[] Png(params (string Type, byte[] Data)[] chunks)
    {
        using var ms = new MemoryStream();
        ms.Write(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A });
        foreach (var (type, data) in chunks.Append(("IEND", Array.Empty<byte>())))
        {
            var head = new byte[8];
            BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
            System.Text.Encoding.ASCII.GetBytes(type).CopyTo(head, 4);
            ms.Write(head);
            ms.Write(data);
            var crc = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32.Update(Crc32.Update(0xFFFFFFFFu, head.AsSpan(4)), data) ^ 0xFFFFFFFFu);
            ms.Write(crc);
        }
        return ms.ToArray();
    }
}
