using System.Buffers.Binary;
using System.IO.Compression;

namespace Crt.Data;

/// <summary>An IDX array (the MNIST family's file format): its dimensions and its values as bytes.</summary>
public sealed record IdxArray(int[] Dims, byte[] Values);

/// <summary>
/// Reads IDX files, gzipped or raw. Only unsigned-byte data (type 0x08) is accepted, which is what
/// MNIST and Fashion-MNIST use for images and labels; anything else is rejected with the reason.
/// </summary>
public static class IdxFile
{
    public static IdxArray Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: IDX file not found", path);
        byte[] bytes;
        try
        {
            var raw = File.ReadAllBytes(path);
            bytes = raw.Length >= 2 && raw[0] == 0x1f && raw[1] == 0x8b ? Gunzip(raw, path) : raw;
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: corrupt gzip stream ({e.Message})", e);
        }
        return Parse(bytes, path);
    }

    /// <summary>Decompresses, refusing (naming the file) a stream that would not fit in one array rather than running out of memory.</summary>
    private static byte[] Gunzip(byte[] raw, string path)
    {
        using var gz = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        var buffer = new byte[1 << 16];
        for (int n; (n = gz.Read(buffer)) > 0;)
        {
            if (ms.Length + n > Array.MaxLength)
                throw new InvalidDataException($"{path}: decompresses to more than {Array.MaxLength / (1 << 20)} MiB, more than one IDX array can hold");
            ms.Write(buffer, 0, n);
        }
        return ms.ToArray();
    }

    public static IdxArray Parse(byte[] bytes, string name)
    {
        if (bytes.Length < 4) throw new InvalidDataException($"{name}: not an IDX file: {bytes.Length} bytes is shorter than the 4-byte header");
        if (bytes[0] != 0 || bytes[1] != 0) throw new InvalidDataException($"{name}: not an IDX file: the magic number must start with two zero bytes");
        byte type = bytes[2];
        int rank = bytes[3];
        if (type != 0x08) throw new InvalidDataException($"{name}: IDX element type 0x{type:X2} is not supported (only unsigned bytes, 0x08)");
        if (rank == 0) throw new InvalidDataException($"{name}: IDX file declares zero dimensions");
        int headerLen = 4 + 4 * rank;
        if (bytes.Length < headerLen) throw new InvalidDataException($"{name}: truncated: the header needs {headerLen} bytes, the file has {bytes.Length}");
        var dims = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * i));
            if (dims[i] < 0) throw new InvalidDataException($"{name}: dimension {i} is negative ({dims[i]})");
            count = dims[i] == 0 ? 0 : count > long.MaxValue / dims[i] ? long.MaxValue : count * dims[i]; // saturates: no wrap-around
        }
        if (bytes.Length - headerLen != count)
            throw new InvalidDataException(bytes.Length - headerLen < count
                ? $"{name}: truncated: dimensions [{string.Join(",", dims)}] need {count} bytes of data, the file has {bytes.Length - headerLen}"
                : $"{name}: {bytes.Length - headerLen - count} unexpected bytes after the data of dimensions [{string.Join(",", dims)}]");
        return new IdxArray(dims, bytes.AsSpan(headerLen).ToArray());
    }
}
