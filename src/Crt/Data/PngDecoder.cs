using System.Buffers.Binary;
using System.IO.Compression;

namespace Crt.Data;

/// <summary>
/// Decodes PNG files (ISO/IEC 15948) into a <see cref="DecodedImage"/>: every colour type (gray, RGB,
/// palette, gray+alpha, RGBA), every bit depth (1, 2, 4, 8, 16), the five row filters, Adam7 interlace,
/// image data split over any number of IDAT chunks. Every chunk's CRC is checked.
/// What comes out, and why:
/// <list type="bullet">
/// <item>Gray and gray+alpha files give 1 channel; RGB, RGBA and palette files give 3 (RGB).</item>
/// <item>Alpha (the alpha channel and tRNS) is dropped, not composited onto a background: the models
///   take opaque pixels, and dropping is what PIL's convert("RGB") does.</item>
/// <item>16-bit samples keep their high byte (v >> 8), as libpng's strip_16 and PIL do.</item>
/// <item>1/2/4-bit gray is scaled to 0..255 by the PNG rule (v · 255 / (2^depth − 1)).</item>
/// <item>gAMA, cHRM, iCCP and other colour metadata are ignored, as PIL ignores them.</item>
/// </list>
/// A corrupt, truncated or unsupported file raises one <see cref="InvalidDataException"/> whose message
/// names the file and the problem.
/// </summary>
public static class PngDecoder
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>(x0, y0, dx, dy) of the seven Adam7 passes.</summary>
    private static readonly (int X0, int Y0, int Dx, int Dy)[] Adam7 =
        { (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2) };

    public static bool IsPng(ReadOnlySpan<byte> data) => data.StartsWith(Signature);

    private readonly record struct Header(int Width, int Height, int Depth, int ColorType, bool Interlaced)
    {
        /// <summary>Samples per pixel in the file (palette indices count as one).</summary>
        public int Samples => ColorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        public int BitsPerPixel => Samples * Depth;
        /// <summary>The filters' "bpp": bytes per complete pixel, at least 1.</summary>
        public int FilterStride => Math.Max(1, BitsPerPixel / 8);
        public int RowBytes(int width) => (int)(((long)width * BitsPerPixel + 7) / 8);
        public int OutChannels => ColorType is 0 or 4 ? 1 : 3;
    }

    public static DecodedImage Decode(string path) => Decode(File.ReadAllBytes(path), path);

    /// <param name="name">The file's name, for error messages.</param>
    public static DecodedImage Decode(byte[] data, string name)
    {
        if (!IsPng(data)) throw Bad(name, "the 8-byte PNG signature is missing");
        Header? header = null;
        byte[]? palette = null;
        using var idat = new MemoryStream();
        long pos = Signature.Length;
        for (bool ended = false; !ended;)
        {
            if (pos + 12 > data.Length) throw Bad(name, $"truncated: the file ends after {data.Length} bytes, before the IEND chunk");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan((int)pos));
            var typeBytes = data.AsSpan((int)pos + 4, 4);
            foreach (var c in typeBytes)
                if (!char.IsAsciiLetter((char)c)) throw Bad(name, $"corrupt: the chunk at byte {pos} has no valid type");
            string type = System.Text.Encoding.ASCII.GetString(typeBytes);
            if (pos + 12 + length > data.Length)
                throw Bad(name, $"truncated: the {type} chunk at byte {pos} needs {length} bytes of data, the file ends {data.Length - pos - 8} bytes in");
            var body = data.AsSpan((int)pos + 8, (int)length);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan((int)(pos + 8 + length)));
            uint actual = Crc32.Update(Crc32.Update(0xFFFFFFFFu, typeBytes), body) ^ 0xFFFFFFFFu;
            if (stored != actual) throw Bad(name, $"corrupt: the {type} chunk at byte {pos} fails its CRC check");
            if (header is null && type != "IHDR") throw Bad(name, $"corrupt: the first chunk is {type}, not IHDR");
            switch (type)
            {
                case "IHDR":
                    if (header is not null) throw Bad(name, "corrupt: a second IHDR chunk");
                    header = ParseHeader(body, name);
                    break;
                case "PLTE":
                    if (length == 0 || length % 3 != 0 || length > 768) throw Bad(name, $"corrupt: a PLTE chunk of {length} bytes (a palette holds 1 to 256 RGB entries)");
                    palette = body.ToArray();
                    break;
                case "IDAT":
                    idat.Write(body);
                    break;
                case "IEND":
                    ended = true;
                    break;
                default:
                    // An uppercase first letter marks a critical chunk: one a decoder must understand to draw the image.
                    if (char.IsAsciiLetterUpper(type[0])) throw Bad(name, $"unsupported critical chunk {type}");
                    break; // ancillary (tRNS, gAMA, tEXt, …): nothing in them changes the RGB/gray samples kept here
            }
            pos += 12 + length;
        }
        var h = header!.Value;
        if (h.ColorType == 3 && palette is null) throw Bad(name, "corrupt: a palette image without a PLTE chunk");
        if (idat.Length == 0) throw Bad(name, "corrupt: no IDAT chunk (the file holds no image data)");
        var raw = Inflate(idat, RawSize(h), $"{h.Width}×{h.Height} image", name);
        return Expand(h, raw, palette, name);
    }

    private static Header ParseHeader(ReadOnlySpan<byte> b, string name)
    {
        if (b.Length != 13) throw Bad(name, $"corrupt: IHDR has {b.Length} bytes, not 13");
        uint w = BinaryPrimitives.ReadUInt32BigEndian(b), hgt = BinaryPrimitives.ReadUInt32BigEndian(b[4..]);
        int depth = b[8], type = b[9];
        if (w == 0 || hgt == 0 || w > int.MaxValue || hgt > int.MaxValue) throw Bad(name, $"corrupt: image size {w}×{hgt}");
        bool depthOk = type switch
        {
            0 => depth is 1 or 2 or 4 or 8 or 16,
            3 => depth is 1 or 2 or 4 or 8,
            2 or 4 or 6 => depth is 8 or 16,
            _ => throw Bad(name, $"corrupt: colour type {type} does not exist (0, 2, 3, 4, 6 do)"),
        };
        if (!depthOk) throw Bad(name, $"corrupt: bit depth {depth} is not allowed for colour type {type}");
        if (b[10] != 0) throw Bad(name, $"unsupported compression method {b[10]} (only 0, zlib, exists)");
        if (b[11] != 0) throw Bad(name, $"unsupported filter method {b[11]} (only 0 exists)");
        if (b[12] > 1) throw Bad(name, $"unsupported interlace method {b[12]} (0 none, 1 Adam7)");
        var h = new Header((int)w, (int)hgt, depth, type, b[12] == 1);
        if ((long)h.Width * h.Height * h.OutChannels > DecodedImage.MaxBytes)
            throw Bad(name, $"image of {h.Width}×{h.Height} is too large to decode (over {DecodedImage.MaxBytes >> 30} GiB of pixels)");
        return h;
    }

    /// <summary>Bytes of filtered scanlines (one filter byte per row) the image data must inflate to.</summary>
    private static long RawSize(Header h)
    {
        if (!h.Interlaced) return (long)h.Height * (1 + h.RowBytes(h.Width));
        long total = 0;
        foreach (var (pw, ph) in PassSizes(h)) if (pw > 0 && ph > 0) total += (long)ph * (1 + h.RowBytes(pw));
        return total;
    }

    private static IEnumerable<(int W, int H)> PassSizes(Header h)
    {
        if (!h.Interlaced) { yield return (h.Width, h.Height); yield break; }
        foreach (var (x0, y0, dx, dy) in Adam7)
            yield return ((h.Width - x0 + dx - 1) / dx, (h.Height - y0 + dy - 1) / dy);
    }

    private static byte[] Inflate(MemoryStream idat, long size, string what, string name)
    {
        var raw = new byte[size];
        idat.Position = 0;
        int got = 0;
        try
        {
            using var z = new ZLibStream(idat, CompressionMode.Decompress, leaveOpen: true);
            while (got < raw.Length)
            {
                int n = z.Read(raw, got, raw.Length - got);
                if (n == 0) break;
                got += n;
            }
        }
        catch (InvalidDataException e) { throw Bad(name, $"corrupt compressed image data ({e.Message.TrimEnd('.')})"); }
        if (got < raw.Length) throw Bad(name, $"truncated: the image data inflates to {got} of the {raw.Length} bytes the {what} needs");
        return raw;
    }

    /// <summary>Undoes the row filters pass by pass and writes each pixel, reduced to 8-bit gray or RGB, to its place.</summary>
    private static DecodedImage Expand(Header h, byte[] raw, byte[]? palette, string name)
    {
        int outCh = h.OutChannels;
        var pixels = new byte[(long)h.Width * h.Height * outCh];
        int offset = 0, pass = 0;
        foreach (var (pw, ph) in PassSizes(h))
        {
            var (x0, y0, dx, dy) = h.Interlaced ? Adam7[pass] : (0, 0, 1, 1);
            pass++;
            if (pw == 0 || ph == 0) continue; // an empty pass has no bytes, not even filter bytes
            int rowBytes = h.RowBytes(pw);
            var prev = new byte[rowBytes]; // the row above the first row is all zeros
            for (int y = 0; y < ph; y++)
            {
                int filter = raw[offset];
                var row = raw.AsSpan(offset + 1, rowBytes);
                if (filter > 4) throw Bad(name, $"corrupt: row {y}{(h.Interlaced ? $" of Adam7 pass {pass}" : "")} uses filter type {filter} (0 to 4 exist)");
                Unfilter(filter, row, prev, h.FilterStride);
                WriteRow(h, row, palette, pixels, y0 + y * dy, x0, dx, pw, name);
                row.CopyTo(prev);
                offset += 1 + rowBytes;
            }
        }
        return new DecodedImage(h.Width, h.Height, outCh, pixels);
    }

    private static void Unfilter(int filter, Span<byte> cur, ReadOnlySpan<byte> prev, int bpp)
    {
        switch (filter)
        {
            case 1: // Sub: the byte one pixel to the left
                for (int i = bpp; i < cur.Length; i++) cur[i] += cur[i - bpp];
                break;
            case 2: // Up: the byte above
                for (int i = 0; i < cur.Length; i++) cur[i] += prev[i];
                break;
            case 3: // Average of left and above, rounded down
                for (int i = 0; i < cur.Length; i++) cur[i] += (byte)(((i >= bpp ? cur[i - bpp] : 0) + prev[i]) >> 1);
                break;
            case 4: // Paeth: whichever of left, above, upper-left is closest to left + above − upper-left
                for (int i = 0; i < cur.Length; i++)
                {
                    int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
                    int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                    cur[i] += (byte)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
                }
                break;
        }
    }

    /// <summary>Writes the <paramref name="count"/> pixels of one unfiltered row to columns x0, x0+dx, … of image row <paramref name="y"/>.</summary>
    private static void WriteRow(Header h, ReadOnlySpan<byte> row, byte[]? palette, byte[] pixels, int y, int x0, int dx, int count, string name)
    {
        int outCh = h.OutChannels, depth = h.Depth, samples = h.Samples;
        long lineStart = (long)y * h.Width * outCh;
        if (depth < 8) // gray or palette, several pixels per byte, most significant bits first
        {
            int mask = (1 << depth) - 1, scale = 255 / mask;
            for (int i = 0; i < count; i++)
            {
                int bit = i * depth;
                int v = (row[bit >> 3] >> (8 - depth - (bit & 7))) & mask;
                long o = lineStart + (long)(x0 + i * dx) * outCh;
                if (h.ColorType == 3) PaletteEntry(palette!, v, pixels, o, name);
                else pixels[o] = (byte)(v * scale);
            }
            return;
        }
        int bytesPerSample = depth / 8; // 16-bit samples are big-endian: their first byte is the high byte
        for (int i = 0; i < count; i++)
        {
            int s = i * samples * bytesPerSample;
            long o = lineStart + (long)(x0 + i * dx) * outCh;
            if (h.ColorType == 3) PaletteEntry(palette!, row[s], pixels, o, name);
            else if (outCh == 1) pixels[o] = row[s]; // gray; the alpha sample of gray+alpha is skipped
            else
            {
                pixels[o] = row[s];
                pixels[o + 1] = row[s + bytesPerSample];
                pixels[o + 2] = row[s + 2 * bytesPerSample]; // RGBA's alpha is skipped
            }
        }
    }

    private static void PaletteEntry(byte[] palette, int index, byte[] pixels, long o, string name)
    {
        if (index * 3 >= palette.Length) throw Bad(name, $"corrupt: palette index {index} beyond the {palette.Length / 3} PLTE entries");
        pixels[o] = palette[index * 3];
        pixels[o + 1] = palette[index * 3 + 1];
        pixels[o + 2] = palette[index * 3 + 2];
    }

    private static InvalidDataException Bad(string name, string problem) => new($"{name}: PNG: {problem}");
}
