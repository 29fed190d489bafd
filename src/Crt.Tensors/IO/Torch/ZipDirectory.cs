using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Crt.Tensors.IO.Torch;

/// <summary>Where one stored zip entry's bytes lie in the file.</summary>
internal sealed record ZipEntry(string Name, long DataOffset, long Size, uint Crc);

/// <summary>
/// The central directory of a zip archive, as torch.save writes them: stored (uncompressed) entries,
/// zip64 records where sizes or offsets pass 4 GiB, one disk, no encryption. Every offset and size is
/// checked against the file's length before anything is read, so a truncated or damaged file is one
/// clear error naming it, never a read past the end or a huge allocation. No decompressor is involved:
/// an entry's bytes are read straight from the file.
/// </summary>
internal sealed class ZipDirectory
{
    private const uint EocdSig = 0x06054b50, Zip64LocatorSig = 0x07064b50, Zip64EocdSig = 0x06064b50;
    private const uint CentralSig = 0x02014b50, LocalSig = 0x04034b50;
    /// <summary>A central directory larger than this is not one torch wrote (it lists a few entries per tensor).</summary>
    private const long MaxCentralDirectory = 256L << 20;

    public string Path { get; }
    public IReadOnlyDictionary<string, ZipEntry> Entries { get; }

    private ZipDirectory(string path, Dictionary<string, ZipEntry> entries) { Path = path; Entries = entries; }

    public static InvalidDataException Bad(string path, string what) => new($"{path}: {what}");

    public static ZipDirectory Read(string path, SafeFileHandle file)
    {
        long length = RandomAccess.GetLength(file);
        if (length < 22) throw Bad(path, $"{length} bytes is too short to be a PyTorch checkpoint (a zip archive); the file is truncated or not a checkpoint");

        // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes; search backwards.
        int tailLen = (int)Math.Min(length, 22 + 65535 + 20);
        var tail = new byte[tailLen];
        ReadAt(path, file, tail, length - tailLen);
        int eocd = -1;
        for (int p = tailLen - 22; p >= 0; p--)
            if (U32(tail, p) == EocdSig && p + 22 + U16(tail, p + 20) <= tailLen) { eocd = p; break; }
        if (eocd < 0) throw Bad(path, "no zip end-of-central-directory record; the file is truncated or not a PyTorch (torch.save) checkpoint");
        long eocdPos = length - tailLen + eocd;

        long disk = U16(tail, eocd + 4), cdDisk = U16(tail, eocd + 6);
        long count = U16(tail, eocd + 10), cdSize = U32(tail, eocd + 12), cdOffset = U32(tail, eocd + 16);
        long cdEnd = eocdPos;
        if (count == 0xFFFF || cdSize == 0xFFFFFFFF || cdOffset == 0xFFFFFFFF)
        {
            // zip64: a locator just before the record points at the zip64 end-of-central-directory record.
            if (eocd < 20 || U32(tail, eocd - 20) != Zip64LocatorSig) throw Bad(path, "zip64 archive without its zip64 locator; the file is damaged");
            long z = Checked64(path, U64(tail, eocd - 20 + 8), "record offset");
            if (z < 0 || z > eocdPos - 20 - 56) throw Bad(path, $"zip64 record offset {z} lies outside the file; the file is damaged");
            var rec = new byte[56];
            ReadAt(path, file, rec, z);
            if (U32(rec, 0) != Zip64EocdSig) throw Bad(path, "zip64 end-of-central-directory record missing; the file is damaged");
            disk = U32(rec, 16); cdDisk = U32(rec, 20);
            count = Checked64(path, U64(rec, 32), "entry count");
            cdSize = Checked64(path, U64(rec, 40), "central directory size");
            cdOffset = Checked64(path, U64(rec, 48), "central directory offset");
            cdEnd = z;
        }
        if (disk != 0 || cdDisk != 0) throw Bad(path, "a multi-part (spanned) zip archive; PyTorch checkpoints are one file");
        if (cdOffset < 0 || cdSize < 0 || cdOffset > cdEnd || cdSize > cdEnd - cdOffset)
            throw Bad(path, $"central directory ({cdSize} bytes at {cdOffset}) lies outside the file ({length} bytes); the file is truncated or damaged");
        if (cdSize > MaxCentralDirectory) throw Bad(path, $"central directory of {cdSize} bytes is implausibly large for a checkpoint");
        if (count > cdSize / 46) throw Bad(path, $"{count} entries cannot fit in a {cdSize}-byte central directory; the file is damaged");

        var cd = new byte[cdSize];
        ReadAt(path, file, cd, cdOffset);
        var entries = new Dictionary<string, ZipEntry>(StringComparer.Ordinal);
        int pos = 0;
        var local = new byte[30];
        for (long i = 0; i < count; i++)
        {
            if (pos + 46 > cd.Length || U32(cd, pos) != CentralSig) throw Bad(path, $"central directory entry {i} is damaged");
            int flags = U16(cd, pos + 8), method = U16(cd, pos + 10);
            uint crc = U32(cd, pos + 16);
            long csize = U32(cd, pos + 20), usize = U32(cd, pos + 24), offset = U32(cd, pos + 42);
            int nameLen = U16(cd, pos + 28), extraLen = U16(cd, pos + 30), commentLen = U16(cd, pos + 32);
            if (pos + 46L + nameLen + extraLen + commentLen > cd.Length) throw Bad(path, $"central directory entry {i} runs past the directory; the file is damaged");
            int nameAt = pos + 46;
            string name = Encoding.UTF8.GetString(cd, nameAt, nameLen);
            ReadZip64Extra(path, name, cd.AsSpan(pos + 46 + nameLen, extraLen), ref usize, ref csize, ref offset);
            pos += 46 + nameLen + extraLen + commentLen;

            if ((flags & 1) != 0) throw Bad(path, $"entry {name} is encrypted");
            if (method != 0) throw Bad(path, $"entry {name} is compressed (zip method {method}); torch.save stores entries uncompressed — was the file re-zipped? Save it again with torch.save");
            if (csize != usize) throw Bad(path, $"entry {name}: stored size {csize} differs from its size {usize}; the file is damaged");
            if (offset < 0 || offset > cdOffset - 30) throw Bad(path, $"entry {name}: header offset {offset} lies outside the archive; the file is damaged");
            ReadAt(path, file, local, offset);
            if (U32(local, 0) != LocalSig) throw Bad(path, $"entry {name}: no local header at offset {offset}; the file is damaged");
            long data = offset + 30 + U16(local, 26) + U16(local, 28);
            // The local header repeats the name (and, without a trailing data descriptor, the CRC and sizes): they must agree.
            bool sameName = U16(local, 26) == nameLen && data <= cdOffset;
            if (sameName)
            {
                var localName = new byte[nameLen];
                ReadAt(path, file, localName, offset + 30);
                sameName = localName.AsSpan().SequenceEqual(cd.AsSpan(nameAt, nameLen));
            }
            if (!sameName) throw Bad(path, $"entry {name}: its local header names another entry; the file is damaged");
            if ((U16(local, 6) & 8) == 0 && (U32(local, 14) != crc || (U32(local, 18) != 0xFFFFFFFF && U32(local, 18) != csize) || (U32(local, 22) != 0xFFFFFFFF && U32(local, 22) != usize)))
                throw Bad(path, $"entry {name}: its local header disagrees with the central directory (CRC or size); the file is damaged");
            if (usize < 0 || data > cdOffset || usize > cdOffset - data)
                throw Bad(path, $"entry {name} ({usize} bytes at {data}) runs past the end of the archive data; the file is truncated or damaged");
            if (!entries.TryAdd(name, new ZipEntry(name, data, usize, crc))) throw Bad(path, $"entry {name} appears twice");
        }
        return new ZipDirectory(path, entries);
    }

    /// <summary>The whole entry, its CRC checked (entries over 2 GiB are refused: no single tensor crt loads is that large).</summary>
    public byte[] ReadEntry(SafeFileHandle file, ZipEntry e)
    {
        if (e.Size > Array.MaxLength) throw Bad(Path, $"entry {e.Name} holds {e.Size} bytes, more than crt reads as one piece (2 GiB)");
        var buf = new byte[e.Size];
        ReadAt(Path, file, buf, e.DataOffset);
        uint crc = Crc32.Append(0, buf);
        if (crc != e.Crc) throw Bad(Path, $"entry {e.Name} fails its CRC check (recorded {e.Crc:x8}, read {crc:x8}); the file is damaged");
        return buf;
    }

    private static void ReadZip64Extra(string path, string name, ReadOnlySpan<byte> extra, ref long usize, ref long csize, ref long offset)
    {
        int p = 0;
        while (p + 4 <= extra.Length)
        {
            int id = BinaryPrimitives.ReadUInt16LittleEndian(extra[p..]), len = BinaryPrimitives.ReadUInt16LittleEndian(extra[(p + 2)..]);
            if (p + 4 + len > extra.Length) throw Bad(path, $"entry {name}: extra field runs past its end; the file is damaged");
            if (id == 1)
            {
                // Only the fields whose 32-bit value is saturated are present, in this order.
                var f = extra.Slice(p + 4, len);
                int q = 0;
                if (usize == 0xFFFFFFFF) usize = Zip64Field(path, name, f, ref q, "size");
                if (csize == 0xFFFFFFFF) csize = Zip64Field(path, name, f, ref q, "stored size");
                if (offset == 0xFFFFFFFF) offset = Zip64Field(path, name, f, ref q, "offset");
            }
            p += 4 + len;
        }
    }

    private static long Zip64Field(string path, string name, ReadOnlySpan<byte> f, ref int q, string what)
    {
        if (q + 8 > f.Length) throw Bad(path, $"entry {name}: zip64 field ({what}) missing; the file is damaged");
        var v = BinaryPrimitives.ReadUInt64LittleEndian(f[q..]);
        q += 8;
        return Checked64(path, v, what);
    }

    private static long Checked64(string path, ulong v, string what) =>
        v <= long.MaxValue ? (long)v : throw Bad(path, $"zip64 {what} {v} is out of range; the file is damaged");

    /// <summary>Reads exactly <paramref name="dst"/>.Length bytes at <paramref name="offset"/>, or fails naming the file.</summary>
    public static void ReadAt(string path, SafeFileHandle file, Span<byte> dst, long offset)
    {
        while (dst.Length > 0)
        {
            int n = RandomAccess.Read(file, dst, offset);
            if (n <= 0) throw Bad(path, $"ends early (wanted {dst.Length} more bytes at offset {offset}); the file is truncated");
            dst = dst[n..];
            offset += n;
        }
    }

    private static ushort U16(byte[] b, int p) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(p));
    private static uint U32(byte[] b, int p) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(p));
    private static ulong U64(byte[] b, int p) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(p));
}
