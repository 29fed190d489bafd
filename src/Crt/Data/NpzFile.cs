using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using Crt.Tensors.IO;

namespace Crt.Data;

/// <summary>An unsigned-byte NumPy array: its shape (C order) and values.</summary>
public sealed record NpyBytes(int[] Shape, byte[] Values);

/// <summary>
/// NumPy's .npz (a zip of .npy files, as np.savez and np.savez_compressed write them) for unsigned-byte arrays,
/// the element type of ADM-style sample and reference files. Reading checks the header, the element type, the
/// declared shape against the bytes present and the zip entry's size before allocating; writing is atomic.
/// </summary>
public static partial class NpzFile
{
    private static readonly byte[] Magic = { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };

    /// <summary>Writes one uint8 array as <paramref name="key"/>.npy in a new .npz (stored entries, as np.savez).</summary>
    public static void WriteUInt8(string path, string key, ReadOnlySpan<byte> values, params int[] shape)
    {
        long count = shape.Aggregate(1L, (a, d) => a * d);
        if (count != values.Length) throw new ArgumentException($"{path}: {values.Length} values do not fill shape ({string.Join(", ", shape)})");
        TempFiles.RemoveStaleOf(path); // a large file once per command: clear what a killed earlier write left beside it
        var header = NpyHeader("|u1", shape);
        unsafe
        {
            fixed (byte* p = values) // pinned for the synchronous write below (a span cannot enter the lambda)
            {
                nint at = (nint)p;
                int length = values.Length;
                AtomicFile.Write(path, s =>
                {
                    using var zip = new ZipArchive(s, ZipArchiveMode.Create, leaveOpen: true);
                    using var entry = zip.CreateEntry(key + ".npy", CompressionLevel.NoCompression).Open();
                    entry.Write(header);
                    entry.Write(new ReadOnlySpan<byte>((byte*)at, length));
                });
            }
        }
    }

    /// <summary>The .npy header (format 1.0) for a C-order array, padded so the data starts at a multiple of 64 bytes.</summary>
    private static byte[] NpyHeader(string descr, int[] shape)
    {
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}";
        int unpadded = Magic.Length + 2 + 2 + dict.Length + 1;
        string text = dict + new string(' ', (64 - unpadded % 64) % 64) + "\n";
        var header = new byte[Magic.Length + 4 + text.Length];
        Magic.CopyTo(header, 0);
        header[6] = 1; header[7] = 0;
        header[8] = (byte)text.Length; header[9] = (byte)(text.Length >> 8);
        Encoding.ASCII.GetBytes(text, header.AsSpan(10));
        return header;
    }

    /// <summary>The uint8 array stored as <paramref name="key"/> (default arr_0, where np.savez puts its first array).</summary>
    public static NpyBytes ReadUInt8(string path, string key = "arr_0")
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: .npz file not found", path);
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var entry = zip.GetEntry(key + ".npy")
                ?? throw new InvalidDataException($"{path}: no array '{key}' (it holds {string.Join(", ", zip.Entries.Select(e => e.FullName))})");
            if (entry.Length > Array.MaxLength)
                throw new InvalidDataException($"{path}: array '{key}' declares {entry.Length} bytes, more than one array can hold");
            var bytes = new byte[entry.Length];
            using (var s = entry.Open())
            {
                int read = 0, n;
                while (read < bytes.Length && (n = s.Read(bytes, read, bytes.Length - read)) > 0) read += n;
                if (read != bytes.Length) throw new InvalidDataException($"{path}: array '{key}' is truncated ({read} of {bytes.Length} bytes)");
            }
            return ParseNpy(bytes, $"{path}: {key}");
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: not a readable .npz (zip) file ({e.Message})", e);
        }
    }

    /// <summary>Parses one .npy file (format 1.x, 2.x or 3.x) holding uint8 values in C order.</summary>
    public static NpyBytes ParseNpy(byte[] bytes, string name)
    {
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic)) throw new InvalidDataException($"{name}: not a .npy array (no \\x93NUMPY magic)");
        int major = bytes[6];
        if (major is < 1 or > 3) throw new InvalidDataException($"{name}: .npy format version {major}.{bytes[7]} is not supported");
        long headerLen = major == 1 ? bytes[8] | bytes[9] << 8 : bytes.Length < 12 ? -1 : BitConverter.ToUInt32(bytes, 8);
        int start = major == 1 ? 10 : 12;
        if (headerLen < 0 || start + headerLen > bytes.Length) throw new InvalidDataException($"{name}: truncated .npy header");
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(bytes, start, (int)headerLen);
        var descr = DescrPattern().Match(header);
        var order = OrderPattern().Match(header);
        var shapeText = ShapePattern().Match(header);
        if (!descr.Success || !order.Success || !shapeText.Success) throw new InvalidDataException($"{name}: unreadable .npy header '{header.Trim()}'");
        if (descr.Groups[1].Value is not ("|u1" or "<u1" or ">u1" or "u1"))
            throw new InvalidDataException($"{name}: element type '{descr.Groups[1].Value}' is not supported (image arrays hold unsigned bytes, '|u1')");
        if (order.Groups[1].Value == "True") throw new InvalidDataException($"{name}: Fortran-order arrays are not supported");
        var shape = new List<int>();
        long count = 1;
        foreach (var part in shapeText.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part.TrimEnd('L'), NumberStyles.None, CultureInfo.InvariantCulture, out int d))
                throw new InvalidDataException($"{name}: shape entry '{part}' is not a dimension");
            shape.Add(d);
            count *= d;
            if (count > bytes.Length) break; // the check below reports it; stops an overflow on absurd shapes
        }
        long data = bytes.Length - start - headerLen;
        if (count != data)
            throw new InvalidDataException($"{name}: shape ({string.Join(", ", shape)}) needs {count} bytes of data, the array has {data}");
        return new NpyBytes(shape.ToArray(), bytes.AsSpan((int)(start + headerLen)).ToArray());
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")] private static partial Regex DescrPattern();
    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")] private static partial Regex OrderPattern();
    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")] private static partial Regex ShapePattern();
}
