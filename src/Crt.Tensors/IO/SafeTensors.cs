using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Crt.Tensors.IO;

/// <summary>
/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors). Reads go
/// tensor by tensor straight from the file into the result arrays (float32 data lands in place;
/// other dtypes convert through a small chunk buffer), so a large file is never held twice. Writes
/// go to a temporary file that is renamed over the target, so a crash never leaves a torn file.
/// The engine assumes a little-endian host, as the format does.
/// </summary>
public static class SafeTensors
{
    private const int ChunkBytes = 1 << 20;

    /// <summary>Loads every tensor as float32 (F32, F16, BF16, F64, I64, I32, U8 … converted).</summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        using var handle = OpenRead(path);
        var header = SafeTensorsHeader.Read(path, handle);
        var result = new Dictionary<string, Tensor>(header.Tensors.Count);
        foreach (var info in header.Tensors) result[info.Name] = ReadFloat(path, handle, header, info);
        return result;
    }

    /// <summary>Loads the named tensors only (each must exist) as float32.</summary>
    public static Dictionary<string, Tensor> Load(string path, IEnumerable<string> names)
    {
        using var handle = OpenRead(path);
        var header = SafeTensorsHeader.Read(path, handle);
        var result = new Dictionary<string, Tensor>();
        foreach (var name in names) result[name] = ReadFloat(path, handle, header, header[name]);
        return result;
    }

    /// <summary>The file's __metadata__ map (empty when absent).</summary>
    public static Dictionary<string, string> LoadMetadata(string path) => new(ReadHeader(path).Metadata);

    /// <summary>The validated header: names, dtypes, shapes and offsets, without reading any data.</summary>
    public static SafeTensorsHeader ReadHeader(string path)
    {
        using var handle = OpenRead(path);
        return SafeTensorsHeader.Read(path, handle);
    }

    /// <summary>An integer tensor (I64, I32, I16, I8, U64, U32, U16, U8, BOOL) with its exact values.</summary>
    public static IntTensor<long> LoadInt64(string path, string name)
    {
        using var handle = OpenRead(path);
        var header = SafeTensorsHeader.Read(path, handle);
        var info = RequireInteger(header, name);
        var data = new long[info.Numel];
        ReadConverted(handle, header, info, data.AsSpan(), static (src, dtype, dst) => IntConvert.ToInt64(src, dtype, dst));
        return new IntTensor<long>(data, info.Shape);
    }

    /// <summary>An integer tensor as int32; values outside the int32 range are an error naming the tensor.</summary>
    public static IntTensor<int> LoadInt32(string path, string name)
    {
        using var handle = OpenRead(path);
        var header = SafeTensorsHeader.Read(path, handle);
        var info = RequireInteger(header, name);
        var data = new int[info.Numel];
        ReadConverted(handle, header, info, data.AsSpan(), (src, dtype, dst) =>
        {
            if (!IntConvert.ToInt32(src, dtype, dst, out long bad))
                throw SafeTensorsHeader.Bad(path, $"tensor '{name}' holds {bad}, outside the int32 range; read it with LoadInt64");
        });
        return new IntTensor<int>(data, info.Shape);
    }

    /// <summary>Writes F32 tensors (sorted by name) to a temporary file and renames it over <paramref name="path"/>.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var entries = new List<WriteEntry>(tensors.Count);
        foreach (var (name, t) in tensors)
            entries.Add(new WriteEntry(name, SafeTensorsDtype.F32, t.Shape, (long)t.Size * 4, s => s.Write(MemoryMarshal.AsBytes(t.Device.IsCpu ? t.ReadOnlySpan : t.ToArray())) /* a device tensor: through a host copy */));
        Write(path, entries, metadata);
    }

    /// <summary>Writes int32 tensors as I32 (e.g. token ids), atomically like <see cref="Save"/>.</summary>
    public static void SaveInt32(string path, IReadOnlyDictionary<string, IntTensor<int>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
        => Write(path, tensors.Select(kv => IntEntry(kv.Key, kv.Value, SafeTensorsDtype.I32)).ToList(), metadata);

    /// <summary>Writes int64 tensors as I64, atomically like <see cref="Save"/>.</summary>
    public static void SaveInt64(string path, IReadOnlyDictionary<string, IntTensor<long>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
        => Write(path, tensors.Select(kv => IntEntry(kv.Key, kv.Value, SafeTensorsDtype.I64)).ToList(), metadata);

    private static WriteEntry IntEntry<T>(string name, IntTensor<T> t, SafeTensorsDtype dtype) where T : struct
    {
        if (ShapeUtil.Numel(t.Shape) != t.Data.Length)
            throw new ArgumentException($"safetensors save: tensor '{name}' has {t.Data.Length} values but shape {ShapeUtil.Format(t.Shape)}");
        return new WriteEntry(name, dtype, t.Shape, (long)t.Data.Length * Marshal.SizeOf<T>(), s => s.Write(MemoryMarshal.AsBytes(t.Data.AsSpan())));
    }

    // ---- reading ----------------------------------------------------------------------------------

    private static Microsoft.Win32.SafeHandles.SafeFileHandle OpenRead(string path) =>
        File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);

    private static SafeTensorInfo RequireInteger(SafeTensorsHeader header, string name)
    {
        var info = header[name];
        if (!info.IsInteger)
            throw new InvalidOperationException($"{header.Path}: tensor '{name}' is {info.Dtype}, not an integer dtype; read it with Load");
        return info;
    }

    private static Tensor ReadFloat(string path, Microsoft.Win32.SafeHandles.SafeFileHandle handle, SafeTensorsHeader header, SafeTensorInfo info)
    {
        var data = new float[info.Numel];
        if (info.Dtype == SafeTensorsDtype.F32)
        {
            // The common case lands straight in the tensor's storage.
            SafeTensorsHeader.ReadExactly(handle, MemoryMarshal.AsBytes(data.AsSpan()), header.DataStart + info.Begin);
        }
        else
        {
            ReadConverted(handle, header, info, data.AsSpan(), (src, dtype, dst) =>
            {
                if (!FloatConvert.ToSingle(src, dtype, dst, out long bad))
                    throw SafeTensorsHeader.Bad(path, $"tensor '{info.Name}' ({dtype}) holds {bad}, which float32 cannot represent exactly; read it with LoadInt64");
            });
        }
        return Tensor.FromArray(data, info.Shape);
    }

    private delegate void Converter<T>(ReadOnlySpan<byte> src, SafeTensorsDtype dtype, Span<T> dst);

    private static void ReadConverted<T>(Microsoft.Win32.SafeHandles.SafeFileHandle handle, SafeTensorsHeader header, SafeTensorInfo info, Span<T> dst, Converter<T> convert)
    {
        int elem = SafeTensorsHeader.DtypeSize(info.Dtype);
        int chunkElems = ChunkBytes / elem;
        var buf = ArrayPool<byte>.Shared.Rent(chunkElems * elem);
        try
        {
            long pos = header.DataStart + info.Begin;
            for (int i = 0; i < dst.Length; i += chunkElems)
            {
                int n = Math.Min(chunkElems, dst.Length - i);
                var src = buf.AsSpan(0, n * elem);
                SafeTensorsHeader.ReadExactly(handle, src, pos);
                pos += src.Length;
                convert(src, info.Dtype, dst.Slice(i, n));
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buf); }
    }

    // ---- writing ----------------------------------------------------------------------------------

    private sealed record WriteEntry(string Name, SafeTensorsDtype Dtype, int[] Shape, long Bytes, Action<Stream> WriteData);

    /// <summary>The reference writer's order: wider dtypes first (keeps every tensor aligned), then by name (ordinal).</summary>
    private static int WriteRank(SafeTensorsDtype d) => d switch
    {
        SafeTensorsDtype.U64 => 0, SafeTensorsDtype.I64 => 1, SafeTensorsDtype.F64 => 2, SafeTensorsDtype.F32 => 3,
        SafeTensorsDtype.U32 => 4, SafeTensorsDtype.I32 => 5, SafeTensorsDtype.BF16 => 6, SafeTensorsDtype.F16 => 7,
        SafeTensorsDtype.U16 => 8, SafeTensorsDtype.I16 => 9, SafeTensorsDtype.I8 => 10, SafeTensorsDtype.U8 => 11, _ => 12,
    };

    private static void Write(string path, List<WriteEntry> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing assumes a little-endian host");
        foreach (var e in entries)
            if (e.Name == "__metadata__") throw new ArgumentException($"safetensors save ({path}): '__metadata__' is reserved and cannot name a tensor");
        entries.Sort((a, b) => WriteRank(a.Dtype) != WriteRank(b.Dtype) ? WriteRank(a.Dtype).CompareTo(WriteRank(b.Dtype)) : string.CompareOrdinal(a.Name, b.Name));

        byte[] header = BuildHeader(entries, metadata);
        string tmp = TempFiles.NameFor(path);
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Span<byte> len = stackalloc byte[8];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
                fs.Write(len);
                fs.Write(header);
                foreach (var e in entries) e.WriteData(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch { /* the original error matters more */ }
            throw;
        }
    }

    private static byte[] BuildHeader(List<WriteEntry> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var e in entries)
            {
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", e.Dtype.ToString());
                w.WriteStartArray("shape");
                foreach (var d in e.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + e.Bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += e.Bytes;
            }
            w.WriteEndObject();
        }
        // The reference pads the header with spaces to a multiple of 8 so the data section is aligned.
        int len = buffer.WrittenCount, padded = (len + 7) / 8 * 8;
        var bytes = new byte[padded];
        buffer.WrittenSpan.CopyTo(bytes);
        bytes.AsSpan(len).Fill((byte)' ');
        return bytes;
    }

    internal static string NameList(IEnumerable<string> names)
    {
        var list = names.Take(11).ToList();
        return list.Count > 10 ? string.Join(", ", list.Take(10)) + ", …" : string.Join(", ", list);
    }
}
