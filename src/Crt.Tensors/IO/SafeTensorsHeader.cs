using System.Text.Json;

namespace Crt.Tensors.IO;

/// <summary>Element types of the safetensors format (the names are the format's own).</summary>
public enum SafeTensorsDtype { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL }

/// <summary>One tensor as the header describes it; offsets are relative to the start of the data section.</summary>
public sealed record SafeTensorInfo(string Name, SafeTensorsDtype Dtype, int[] Shape, long Begin, long End)
{
    public int Numel => ShapeUtil.Numel(Shape);
    public bool IsInteger => Dtype is not (SafeTensorsDtype.F64 or SafeTensorsDtype.F32 or SafeTensorsDtype.F16 or SafeTensorsDtype.BF16);
}

/// <summary>An integer tensor read without conversion (token data, counters).</summary>
public sealed record IntTensor<T>(T[] Data, int[] Shape) where T : struct;

/// <summary>
/// A parsed and validated safetensors header: 8-byte little-endian header length N, N bytes of JSON
/// (tensor name → {dtype, shape, data_offsets}, optional "__metadata__" string map), then the data.
/// Every malformed case throws one <see cref="InvalidDataException"/> naming the file and the problem.
/// </summary>
public sealed class SafeTensorsHeader
{
    /// <summary>The reference implementation refuses headers above 100 MB; so do we (a corrupt length would otherwise allocate wildly).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public string Path { get; }
    public long FileLength { get; }
    /// <summary>Absolute file offset where the data section starts (8 + header length).</summary>
    public long DataStart { get; }
    /// <summary>Tensors in header order.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private readonly Dictionary<string, SafeTensorInfo> _byName;

    private SafeTensorsHeader(string path, long fileLength, long dataStart, List<SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path; FileLength = fileLength; DataStart = dataStart; Tensors = tensors; Metadata = metadata;
        _byName = tensors.ToDictionary(t => t.Name);
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public SafeTensorInfo this[string name] => _byName.TryGetValue(name, out var t) ? t
        : throw new KeyNotFoundException($"{Path}: no tensor named '{name}' (the file has {Tensors.Count}: {SafeTensors.NameList(_byName.Keys)})");

    public static int DtypeSize(SafeTensorsDtype d) => d switch
    {
        SafeTensorsDtype.F64 or SafeTensorsDtype.I64 or SafeTensorsDtype.U64 => 8,
        SafeTensorsDtype.F32 or SafeTensorsDtype.I32 or SafeTensorsDtype.U32 => 4,
        SafeTensorsDtype.F16 or SafeTensorsDtype.BF16 or SafeTensorsDtype.I16 or SafeTensorsDtype.U16 => 2,
        _ => 1,
    };

    internal static InvalidDataException Bad(string path, string problem) => new($"{path}: {problem}");

    /// <summary>Reads and validates the header of an open file.</summary>
    public static SafeTensorsHeader Read(string path, Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        long fileLength = RandomAccess.GetLength(handle);
        if (fileLength < 8)
            throw Bad(path, $"truncated: the file has {fileLength} bytes, fewer than the 8-byte header length that starts a safetensors file");
        Span<byte> lenBytes = stackalloc byte[8];
        ReadExactly(handle, lenBytes, 0);
        ulong n = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (n > (ulong)(fileLength - 8))
            throw Bad(path, $"truncated or not a safetensors file: header length {n} bytes exceeds the {fileLength - 8} bytes that follow it");
        if (n > MaxHeaderBytes)
            throw Bad(path, $"header length {n} bytes exceeds the {MaxHeaderBytes}-byte limit of the format");
        if (n < 2)
            throw Bad(path, $"header length {n} bytes is too small for a JSON object");
        var json = new byte[n];
        ReadExactly(handle, json, 8);
        return Parse(path, json, fileLength);
    }

    internal static void ReadExactly(Microsoft.Win32.SafeHandles.SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        while (buffer.Length > 0)
        {
            int r = RandomAccess.Read(handle, buffer, offset);
            if (r <= 0) throw new EndOfStreamException($"unexpected end of file at byte {offset}");
            buffer = buffer[r..];
            offset += r;
        }
    }

    private static SafeTensorsHeader Parse(string path, byte[] json, long fileLength)
    {
        long dataStart = 8 + json.LongLength;
        long dataLength = fileLength - dataStart;
        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw Bad(path, "header is not valid UTF-8 JSON");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 }); }
        catch (JsonException e) { throw Bad(path, $"header is not valid JSON ({e.Message})"); }
        using var _ = doc;
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw Bad(path, $"header must be a JSON object, found {root.ValueKind}");

        var tensors = new List<SafeTensorInfo>();
        var metadata = new Dictionary<string, string>();
        var seen = new HashSet<string>();
        foreach (var prop in root.EnumerateObject())
        {
            if (!seen.Add(prop.Name)) throw Bad(path, $"header names '{prop.Name}' twice");
            if (prop.Name == "__metadata__")
            {
                if (prop.Value.ValueKind != JsonValueKind.Object)
                    throw Bad(path, $"__metadata__ must be an object of strings, found {prop.Value.ValueKind}");
                foreach (var m in prop.Value.EnumerateObject())
                {
                    if (m.Value.ValueKind != JsonValueKind.String)
                        throw Bad(path, $"__metadata__ entry '{m.Name}' must be a string, found {m.Value.ValueKind}");
                    metadata[m.Name] = m.Value.GetString()!;
                }
                continue;
            }
            tensors.Add(ParseTensor(path, prop.Name, prop.Value));
        }

        // Data must lie inside the file and no two tensors may share bytes.
        foreach (var t in tensors)
        {
            int size = DtypeSize(t.Dtype);
            long need = (long)t.Numel * size;
            if (t.End - t.Begin != need)
                throw Bad(path, $"tensor '{t.Name}': shape {ShapeUtil.Format(t.Shape)} of {t.Dtype} needs {need} bytes but data_offsets [{t.Begin},{t.End}] span {t.End - t.Begin}");
            if (t.End > dataLength)
                throw Bad(path, $"truncated: header says tensor '{t.Name}' ends at byte {dataStart + t.End} but the file has {fileLength} bytes");
        }
        var sorted = tensors.Where(t => t.End > t.Begin).OrderBy(t => t.Begin).ToList();
        for (int i = 1; i < sorted.Count; i++)
            if (sorted[i].Begin < sorted[i - 1].End)
                throw Bad(path, $"tensors '{sorted[i - 1].Name}' and '{sorted[i].Name}' overlap (data_offsets [{sorted[i - 1].Begin},{sorted[i - 1].End}] and [{sorted[i].Begin},{sorted[i].End}])");
        return new SafeTensorsHeader(path, fileLength, dataStart, tensors, metadata);
    }

    private static SafeTensorInfo ParseTensor(string path, string name, JsonElement e)
    {
        string where = $"tensor '{name}'";
        if (e.ValueKind != JsonValueKind.Object) throw Bad(path, $"{where}: entry must be an object, found {e.ValueKind}");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw Bad(path, $"{where}: missing or non-string \"dtype\"");
        string dtype = dt.GetString()!;
        // Only the exact names: Enum.TryParse would also accept numbers and comma lists.
        if (!Enum.GetNames<SafeTensorsDtype>().Contains(dtype) || !Enum.TryParse<SafeTensorsDtype>(dtype, out var d))
            throw Bad(path, $"{where}: unknown dtype '{dtype}' (supported: {string.Join(", ", Enum.GetNames<SafeTensorsDtype>())})");

        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw Bad(path, $"{where}: missing or non-array \"shape\"");
        var shape = new int[sh.GetArrayLength()];
        long numel = 1;
        int k = 0;
        foreach (var dim in sh.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt32(out int v) || v < 0)
                throw Bad(path, $"{where}: shape entry {dim.GetRawText()} is not a non-negative 32-bit integer");
            shape[k++] = v;
            numel *= v;
            if (numel > int.MaxValue) throw Bad(path, $"{where}: shape {sh.GetRawText()} has more than 2^31-1 elements");
        }

        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad(path, $"{where}: \"data_offsets\" must be an array [begin, end]");
        var o = new long[2];
        k = 0;
        foreach (var x in off.EnumerateArray())
        {
            if (x.ValueKind != JsonValueKind.Number || !x.TryGetInt64(out long v) || v < 0)
                throw Bad(path, $"{where}: data_offsets entry {x.GetRawText()} is not a non-negative integer");
            o[k++] = v;
        }
        if (o[1] < o[0]) throw Bad(path, $"{where}: data_offsets [{o[0]},{o[1]}] end before they begin");
        return new SafeTensorInfo(name, d, shape, o[0], o[1]);
    }
}
