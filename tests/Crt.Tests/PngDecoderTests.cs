using System.Buffers.Binary;
using System.IO.Compression;
using Crt.Data;
using Xunit;

namespace Crt.Tests;

public class PngDecoderTests
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
        var actual = PngDecoder.Decode(Path.Combine(ImageFixtures.Dir, "png", stem + ".png"));
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
                var img = PngDecoder.Decode(path);
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
        string Error(byte[] bytes) => Assert.Throws<InvalidDataException>(() => PngDecoder.Decode(bytes, "x/bad.png")).Message;

        var flipped = (byte[])good.Clone();
        int idat = IndexOf(good, "IDAT");
        flipped[idat + 10] ^= 0x40;
        Assert.Equal($"x/bad.png: PNG: corrupt: the IDAT chunk at byte {idat - 4} fails its CRC check", Error(flipped));

        Assert.StartsWith("x/bad.png: PNG: truncated: ", Error(good[..(good.Length / 2)]));
        Assert.Equal("x/bad.png: PNG: the 8-byte PNG signature is missing", Error(good[1..]));

        // Valid chunks whose compressed data stops early: the decoder notices the missing rows.
        var raw = Rows(new byte[6 * 3], 3, filter: 0);
        var z = Compress(raw);
        var cut = Error(Png(Ihdr(6, 3, 8, 0), ("IDAT", z[..(z.Length / 2)])));
        Assert.StartsWith("x/bad.png: PNG: truncated: the image data inflates to ", cut);
        Assert.EndsWith(" of the 21 bytes the 6×3 image needs", cut);
        Assert.StartsWith("x/bad.png: PNG: corrupt compressed image data", Error(Png(Ihdr(6, 3, 8, 0), ("IDAT", new byte[] { 0x78, 0x9C, 0xFF, 0xFF, 0xFF, 0xFF }))));

        Assert.Equal("x/bad.png: PNG: corrupt: bit depth 3 is not allowed for colour type 0", Error(Png(Ihdr(6, 3, 3, 0), ("IDAT", z))));
        Assert.Equal("x/bad.png: PNG: corrupt: bit depth 4 is not allowed for colour type 2", Error(Png(Ihdr(6, 3, 4, 2), ("IDAT", z))));
        Assert.Equal("x/bad.png: PNG: unsupported critical chunk ABCD", Error(Png(Ihdr(6, 3, 8, 0), ("ABCD", new byte[2]), ("IDAT", z))));
        Assert.Equal("x/bad.png: PNG: corrupt: row 0 uses filter type 5 (0 to 4 exist)", Error(Png(Ihdr(6, 3, 8, 0), ("IDAT", Compress(Rows(new byte[18], 3, filter: 5))))));
        Assert.Equal("x/bad.png: PNG: corrupt: a palette image without a PLTE chunk", Error(Png(Ihdr(6, 3, 8, 3), ("IDAT", z))));
        Assert.Equal("x/bad.png: PNG: corrupt: palette index 2 beyond the 2 PLTE entries",
            Error(Png(Ihdr(6, 3, 8, 3), ("PLTE", new byte[6]), ("IDAT", Compress(Rows(Enumerable.Repeat((byte)2, 18).ToArray(), 3, filter: 0))))));
    }

    [Fact]
    public void AncillaryChunksAreSkippedAndFiltersUndone()
    {
        // Sub filter on a 2-pixel gray row: stored deltas 10, 5 mean pixels 10, 15.
        var raw = new byte[] { 1, 10, 5 };
        var img = PngDecoder.Decode(Png(Ihdr(2, 1, 8, 0), ("gAMA", new byte[4]), ("IDAT", Compress(raw)), ("tEXt", "k\0v"u8.ToArray())), "t.png");
        Assert.Equal(new byte[] { 10, 15 }, img.Pixels);
    }

    // ---- building small PNGs by hand --------------------------------------------------------------

    private static int IndexOf(byte[] data, string type)
    {
        var t = System.Text.Encoding.ASCII.GetBytes(type);
        return data.AsSpan().IndexOf(t);
    }

    private static (string, byte[]) Ihdr(int w, int h, int depth, int colorType)
    {
        var b = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(b, w);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), h);
        b[8] = (byte)depth; b[9] = (byte)colorType;
        return ("IHDR", b);
    }

    private static byte[] Rows(byte[] pixels, int height, int filter)
    {
        int stride = pixels.Length / height;
        var raw = new List<byte>();
        for (int y = 0; y < height; y++) { raw.Add((byte)filter); raw.AddRange(pixels.AsSpan(y * stride, stride).ToArray()); }
        return raw.ToArray();
    }

    private static byte[] Compress(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, CompressionLevel.Optimal)) z.Write(raw);
        return ms.ToArray();
    }

    private static byte[] Png(params (string Type, byte[] Data)[] chunks)
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
