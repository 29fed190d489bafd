using System.Buffers.Binary;
using System.IO.Compression;
using Crt.Data;
using Xunit;

namespace Crt.Tests;

public sealed class PngWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-png-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void WritesAValidPngWhosePixelsDecodeBack(int channels)
    {
        int w = 5, h = 3;
        var pixels = Enumerable.Range(0, w * h * channels).Select(i => (byte)(i * 17)).ToArray();
        var path = Path.Combine(_dir, "x.png");
        PngWriter.Write(path, pixels, w, h, channels);
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        int at = 8;
        var idat = new MemoryStream();
        var types = new List<string>();
        while (at < bytes.Length)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(at));
            var typeAndData = bytes.AsSpan(at + 4, 4 + len);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at + 8 + len));
            Assert.Equal(Crc32.Update(0xFFFFFFFFu, typeAndData) ^ 0xFFFFFFFFu, crc);
            string type = System.Text.Encoding.ASCII.GetString(typeAndData[..4]);
            types.Add(type);
            if (type == "IHDR")
            {
                Assert.Equal(w, BinaryPrimitives.ReadInt32BigEndian(typeAndData[4..]));
                Assert.Equal(h, BinaryPrimitives.ReadInt32BigEndian(typeAndData[8..]));
                Assert.Equal(channels == 1 ? 0 : 2, typeAndData[13]);
            }
            if (type == "IDAT") idat.Write(typeAndData[4..]);
            at += 12 + len;
        }
        Assert.Equal(new[] { "IHDR", "IDAT", "IEND" }, types);
        idat.Position = 0;
        var raw = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionMode.Decompress)) z.CopyTo(raw);
        var rows = raw.ToArray();
        for (int y = 0; y < h; y++)
        {
            Assert.Equal(0, rows[y * (w * channels + 1)]); // filter type none
            Assert.Equal(pixels.AsSpan(y * w * channels, w * channels).ToArray(), rows.AsSpan(y * (w * channels + 1) + 1, w * channels).ToArray());
        }
        Assert.Equal(0xCBF43926u, Crc32.Update(0xFFFFFFFFu, "123456789"u8) ^ 0xFFFFFFFFu); // the standard check value
    }
}
