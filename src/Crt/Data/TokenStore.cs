using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Crt.Tensors.IO;

namespace Crt.Data;

/// <summary>What a token store holds, recorded in its header.</summary>
public sealed record TokenStoreHeader
{
    [JsonPropertyName("format")] public int Format { get; init; } = TokenStore.FormatVersion;
    /// <summary>SHA-256 (hex) of the tokenizer checkpoint that produced the codes.</summary>
    [JsonPropertyName("tokenizer_sha256")] public required string TokenizerSha256 { get; init; }
    [JsonPropertyName("grid_height")] public required int GridHeight { get; init; }
    [JsonPropertyName("grid_width")] public required int GridWidth { get; init; }
    [JsonPropertyName("codebook_size")] public required int CodebookSize { get; init; }
    [JsonPropertyName("num_classes")] public required int NumClasses { get; init; }
    [JsonPropertyName("count")] public required int Count { get; init; }
    /// <summary>Stored variants per image (1 = the image itself; more = augmented copies: flips, crops).</summary>
    [JsonPropertyName("variants")] public required int Variants { get; init; }
    [JsonPropertyName("variant_names")] public string[]? VariantNames { get; init; }
    [JsonPropertyName("source")] public string? Source { get; init; }

    [JsonIgnore] public int TokensPerImage => GridHeight * GridWidth;
    /// <summary>2 bytes per code up to 65,536 codebook entries, 4 beyond.</summary>
    [JsonIgnore] public int BytesPerCode => CodebookSize <= 65536 ? 2 : 4;
}

/// <summary>
/// The compact file of discrete codes that the tokenizer writes and the generator reads:
/// "CRTTOK01", a little-endian int32 header length, a JSON header, int32 labels [count], then codes
/// [count, variants, tokens] as uint16 (uint32 when the codebook exceeds 65,536 entries).
/// </summary>
public sealed class TokenStore
{
    public const int FormatVersion = 1;
    private static readonly byte[] Magic = "CRTTOK01"u8.ToArray();

    public TokenStoreHeader Header { get; }
    public int[] Labels { get; }
    private readonly ushort[]? _codes16;
    private readonly uint[]? _codes32;

    private TokenStore(TokenStoreHeader header, int[] labels, ushort[]? c16, uint[]? c32)
    {
        (Header, Labels, _codes16, _codes32) = (header, labels, c16, c32);
    }

    public int Count => Header.Count;

    /// <summary>Copies the codes of one stored variant of one image into <paramref name="dst"/> (length tokens).</summary>
    public void GetCodes(int index, int variant, Span<int> dst)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), $"token store: image {index} is outside its {Count} images");
        if ((uint)variant >= (uint)Header.Variants) throw new ArgumentOutOfRangeException(nameof(variant), $"token store: variant {variant} is outside its {Header.Variants} variants");
        int n = Header.TokensPerImage, off = (index * Header.Variants + variant) * n;
        if (_codes16 is not null) for (int i = 0; i < n; i++) dst[i] = _codes16[off + i];
        else for (int i = 0; i < n; i++) dst[i] = (int)_codes32![off + i];
    }

    /// <summary>Writes codes [count, variants, tokens] and labels to <paramref name="path"/> (temporary name, then rename).</summary>
    public static void Write(string path, TokenStoreHeader header, ReadOnlySpan<int> codes, ReadOnlySpan<int> labels)
    {
        long expected = (long)header.Count * header.Variants * header.TokensPerImage;
        if (codes.Length != expected) throw new ArgumentException($"{path}: {codes.Length} codes given, the header implies {expected}");
        if (labels.Length != header.Count) throw new ArgumentException($"{path}: {labels.Length} labels for {header.Count} images");
        for (int i = 0; i < codes.Length; i++)
            if ((uint)codes[i] >= (uint)header.CodebookSize)
                throw new ArgumentException($"{path}: code {codes[i]} at position {i} is outside the codebook of {header.CodebookSize}");
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)header.NumClasses)
                throw new ArgumentException($"{path}: label {labels[i]} of image {i} is outside the {header.NumClasses} classes");

        TempFiles.RemoveStaleOf(path); // a large file once per command: clear what a killed earlier write left beside it
        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        ushort[]? narrow = null;
        if (header.BytesPerCode == 2)
        {
            narrow = new ushort[codes.Length];
            for (int i = 0; i < narrow.Length; i++) narrow[i] = (ushort)codes[i];
        }
        unsafe
        {
            // spans cannot enter the writer below; pinned pointers can (it runs before AtomicFile.Write returns)
            fixed (int* pc = codes, pl = labels)
            {
                nint c = (nint)pc, l = (nint)pl;
                int nc = codes.Length, nl = labels.Length;
                AtomicFile.Write(path, s =>
                {
                    using var w = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true);
                    w.Write(Magic);
                    w.Write(json.Length);
                    w.Write(json);
                    w.Write(MemoryMarshal.AsBytes(new ReadOnlySpan<int>((int*)l, nl)));
                    if (narrow is not null) w.Write(MemoryMarshal.AsBytes(narrow.AsSpan()));
                    else w.Write(MemoryMarshal.AsBytes(new ReadOnlySpan<int>((int*)c, nc)));
                });
            }
        }
    }

    public static TokenStore Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: token store not found", path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 12 || !bytes.AsSpan(0, 8).SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not a crt token store (missing the CRTTOK01 signature)");
        int hlen = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        if (hlen <= 0 || 12L + hlen > bytes.Length) throw new InvalidDataException($"{path}: truncated: header of {hlen} bytes does not fit in the file's {bytes.Length} bytes");
        TokenStoreHeader header;
        try
        {
            header = JsonSerializer.Deserialize<TokenStoreHeader>(bytes.AsSpan(12, hlen))
                ?? throw new InvalidDataException($"{path}: empty token store header");
        }
        catch (JsonException e) { throw new InvalidDataException($"{path}: malformed token store header ({e.Message})", e); }
        if (header.Format != FormatVersion) throw new InvalidDataException($"{path}: token store format {header.Format}, this build reads format {FormatVersion}");
        if (header.Count < 0 || header.Variants < 1 || header.GridHeight < 1 || header.GridWidth < 1 || header.CodebookSize < 1)
            throw new InvalidDataException($"{path}: header has impossible sizes (count {header.Count}, variants {header.Variants}, grid {header.GridHeight}×{header.GridWidth}, codebook {header.CodebookSize})");
        long codes = (long)header.Count * header.Variants * header.TokensPerImage;
        long need = 12L + hlen + 4L * header.Count + codes * header.BytesPerCode;
        if (bytes.Length != need)
            throw new InvalidDataException(bytes.Length < need
                ? $"{path}: truncated: {header.Count} images × {header.Variants} variants × {header.TokensPerImage} tokens need {need} bytes, the file has {bytes.Length}"
                : $"{path}: {bytes.Length - need} unexpected bytes after the codes");
        int off = 12 + hlen;
        var labels = MemoryMarshal.Cast<byte, int>(bytes.AsSpan(off, 4 * header.Count)).ToArray();
        off += 4 * header.Count;
        ushort[]? c16 = null; uint[]? c32 = null;
        if (header.BytesPerCode == 2) c16 = MemoryMarshal.Cast<byte, ushort>(bytes.AsSpan(off)).ToArray();
        else c32 = MemoryMarshal.Cast<byte, uint>(bytes.AsSpan(off)).ToArray();
        return new TokenStore(header, labels, c16, c32);
    }
}
