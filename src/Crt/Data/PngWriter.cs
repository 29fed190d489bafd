using System.Buffers.Binary;
using System.IO.Compression;

namespace Crt.Data;

/// <summary>Writes 8-bit grayscale or RGB PNG files (zlib through System.IO.Compression), atomically.</summary>
public static class PngWriter
{
    /// <param name="pixels">Row-major, interleaved when <paramref name="channels"/> is 3.</param>
    public static void Write(string path, ReadOnlySpan<byte> pixels, int width, int height, int channels)
    {
        if (channels != 1 && channels != 3) throw new ArgumentException($"{path}: PNG writer takes 1 (gray) or 3 (RGB) channels, not {channels}");
        if (pixels.Length != (long)width * height * channels)
            throw new ArgumentException($"{path}: {pixels.Length} bytes are not a {width}×{height}×{channels} image");
        using var ms = new MemoryStream();
        ms.Write(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A });
        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = (byte)(channels == 1 ? 0 : 2); // colour type: gray or RGB
        WriteChunk(ms, "IHDR", ihdr);
        using (var raw = new MemoryStream())
        {
            using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
            {
                int stride = width * channels;
                for (int y = 0; y < height; y++)
                {
                    z.WriteByte(0); // filter: none
                    z.Write(pixels.Slice(y * stride, stride));
                }
            }
            WriteChunk(ms, "IDAT", raw.ToArray());
        }
        WriteChunk(ms, "IEND", ReadOnlySpan<byte>.Empty);
        AtomicFile.WriteAllBytes(path, ms.ToArray());
    }

    private static void WriteChunk(Stream s, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        for (int i = 0; i < 4; i++) head[4 + i] = (byte)type[i];
        s.Write(head);
        s.Write(data);
        uint crc = Crc32.Update(Crc32.Update(0xFFFFFFFFu, head[4..]), data) ^ 0xFFFFFFFFu;
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(tail, crc);
        s.Write(tail);
    }
}

/// <summary>The CRC-32 of PNG and zlib (polynomial 0xEDB88320).</summary>
public static class Crc32
{
    private static readonly uint[] Table = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>Continues a CRC (start with 0xFFFFFFFF, finish by xor with 0xFFFFFFFF).</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }
}
