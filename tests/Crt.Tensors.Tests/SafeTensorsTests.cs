using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Crt.Tensors;
using Crt.Tensors.IO;
using Xunit;

namespace Crt.Tensors.Tests;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-st-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>tests/Crt.Tensors.Tests/data in the source tree (the files are written by make_safetensors_data.py there).</summary>
    internal static string DataFile(string name)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var f = Path.Combine(d.FullName, "tests", "Crt.Tensors.Tests", "data", name);
            if (File.Exists(f)) return f;
        }
        throw new FileNotFoundException($"test data {name} not found above {AppContext.BaseDirectory}");
    }

    // ---- files written by Python (tools/parity/safetensors_io.py) -------------------------------------

    [Fact]
    public void ReadsEveryDtypeWrittenByPython()
    {
        var path = DataFile("mixed_dtypes.safetensors");
        var t = SafeTensors.Load(path);
        Assert.Equal(new[] { "bf16", "bool", "empty", "f16", "f32", "f64", "i16", "i32", "i64", "scalar", "u8" }, t.Keys.Order(StringComparer.Ordinal));

        void Is(string name, int[] shape, float[] values)
        {
            Assert.Equal(shape, t[name].Shape);
            Assert.Equal(values, t[name].ToArray());
        }
        Is("f32", new[] { 2, 3 }, new[] { 1.5f, -2.25f, 3.0e-3f, 1.0e6f, -0.0f, 7f });
        // Values after rounding to the stored precision (torch's own conversions).
        Is("f16", new[] { 4 }, new[] { 0.0999755859375f, -1.25f, 65504f, 6.103515625e-05f });
        Is("bf16", new[] { 2, 2 }, new[] { 0.10009765625f, -3f, 1.0002555517425873e+30f, 0.5f });
        Is("f64", new[] { 2 }, new[] { 0.1f, -2.5f });
        Is("i64", new[] { 2, 3 }, new[] { 0f, -1f, 16777216f, 42f, -16777216f, 7f });
        Is("i32", new[] { 2 }, new[] { -5f, 2147f });
        Is("i16", new[] { 2 }, new[] { -32768f, 32767f });
        Is("u8", new[] { 4 }, new[] { 0f, 1f, 128f, 255f });
        Is("bool", new[] { 3 }, new[] { 1f, 0f, 1f });
        Is("scalar", Array.Empty<int>(), new[] { 3.25f });
        Is("empty", new[] { 0, 3 }, Array.Empty<float>());
        Assert.True(BitConverter.SingleToInt32Bits(t["f32"].Span[4]) < 0, "-0.0 keeps its sign");

        var meta = SafeTensors.LoadMetadata(path);
        Assert.Equal("pt", meta["format"]);
        Assert.Equal("crt test data", meta["note"]);
        Assert.Equal(2, meta.Count);

        var header = SafeTensors.ReadHeader(path);
        Assert.Equal(SafeTensorsDtype.BF16, header["bf16"].Dtype);
        Assert.Equal(0, header.DataStart % 8);
    }

    [Fact]
    public void IntegerTensorsKeepExactValues()
    {
        var path = DataFile("big_ints.safetensors");
        var tokens = SafeTensors.LoadInt64(path, "tokens");
        Assert.Equal(new[] { 2, 3 }, tokens.Shape);
        Assert.Equal(new long[] { 1, 2, 3, (1L << 40) + 7, -3, 0 }, tokens.Data);
        var labels = SafeTensors.LoadInt32(path, "labels");
        Assert.Equal(new[] { 9, 0, 4 }, labels.Data);
        Assert.Equal(new long[] { 9, 0, 4 }, SafeTensors.LoadInt64(path, "labels").Data);

        // 2^40+7 does not fit int32 or float32 exactly: both say so instead of rounding.
        var e32 = Assert.Throws<InvalidDataException>(() => SafeTensors.LoadInt32(path, "tokens"));
        Assert.Contains("'tokens'", e32.Message);
        Assert.Contains("1099511627783", e32.Message);
        var ef = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains("float32 cannot represent", ef.Message);
        Assert.StartsWith(path, ef.Message);

        var mixed = DataFile("mixed_dtypes.safetensors");
        Assert.Equal(new[] { 0, 1, 128, 255 }, SafeTensors.LoadInt32(mixed, "u8").Data);
        Assert.Equal(new[] { 1, 0, 1 }, SafeTensors.LoadInt32(mixed, "bool").Data);
        Assert.Throws<InvalidOperationException>(() => SafeTensors.LoadInt64(mixed, "f32"));
        var missing = Assert.Throws<KeyNotFoundException>(() => SafeTensors.LoadInt64(mixed, "nope"));
        Assert.Contains("'nope'", missing.Message);
    }

    // ---- writing ------------------------------------------------------------------------------------

    [Fact]
    public void WriteThenReadRoundTripsExactly()
    {
        var rng = new Rng(3);
        var tensors = new Dictionary<string, Tensor>
        {
            ["layers.1.w"] = rng.Normal(new[] { 3, 5 }),
            ["b"] = rng.Normal(new[] { 7 }),
            ["layers.0.w"] = rng.Normal(new[] { 2, 1, 3 }),
            ["s"] = Tensor.Scalar(-1.5f),
            ["z"] = Tensor.Zeros(0),
        };
        var path = Path.Combine(_dir, "rt.safetensors");
        SafeTensors.Save(path, tensors, new Dictionary<string, string> { ["step"] = "12", ["note"] = "é \"q\"" });
        var back = SafeTensors.Load(path);
        Assert.Equal(tensors.Keys.Order(), back.Keys.Order());
        foreach (var (k, v) in tensors)
        {
            Assert.Equal(v.Shape, back[k].Shape);
            Assert.Equal(v.ToArray(), back[k].ToArray());
        }
        var meta = SafeTensors.LoadMetadata(path);
        Assert.Equal("12", meta["step"]);
        Assert.Equal("é \"q\"", meta["note"]);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp-*"));
    }

    [Fact]
    public void WrittenBytesFollowTheReferenceLayout()
    {
        var path = Path.Combine(_dir, "layout.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor>
        {
            ["zeta"] = Tensor.FromArray(new[] { 1f, 2f }, 2),
            ["alpha"] = Tensor.FromArray(new[] { 3f, 4f, 5f }, 3, 1),
            ["Beta"] = Tensor.Scalar(6f),
        });
        var bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + n) % 8);
        Assert.Equal(bytes.Length, 8 + n + 6 * 4);
        var headerText = Encoding.UTF8.GetString(bytes, 8, (int)n);
        // Compact JSON, tensors sorted by name (ordinal: upper case first), padded with spaces.
        var json = headerText.TrimEnd(' ');
        Assert.Equal(
            "{\"Beta\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}," +
            "\"alpha\":{\"dtype\":\"F32\",\"shape\":[3,1],\"data_offsets\":[4,16]}," +
            "\"zeta\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}", json);
        Assert.True(headerText.Length - json.Length < 8);
        var data = new float[6];
        Buffer.BlockCopy(bytes, (int)(8 + n), data, 0, 24);
        Assert.Equal(new[] { 6f, 3f, 4f, 5f, 1f, 2f }, data);
    }

    [Fact]
    public void SaveReplacesAnExistingFileAndLeavesNoTemporary()
    {
        var path = Path.Combine(_dir, "over.safetensors");
        File.WriteAllText(path, "old contents that are not safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray(new[] { 1f }, 1) });
        Assert.Equal(new[] { 1f }, SafeTensors.Load(path)["x"].ToArray());
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void AFailedSaveKeepsTheOldFile()
    {
        var path = Path.Combine(_dir, "keep.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray(new[] { 1f }, 1) });
        var before = File.ReadAllBytes(path);
        Tensor released;
        using (TensorScope.Begin()) released = Tensor.Zeros(4);
        // Reading a released tensor's data throws in the middle of writing.
        Assert.Throws<ObjectDisposedException>(() => SafeTensors.Save(path, new Dictionary<string, Tensor>
        {
            ["a"] = Tensor.FromArray(new[] { 2f }, 1), ["b"] = released,
        }));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void IntegerTensorsRoundTrip()
    {
        var path = Path.Combine(_dir, "ints.safetensors");
        SafeTensors.SaveInt32(path, new Dictionary<string, IntTensor<int>> { ["tok"] = new(new[] { 5, -1, int.MaxValue, 0 }, new[] { 2, 2 }) });
        var back = SafeTensors.LoadInt32(path, "tok");
        Assert.Equal(new[] { 2, 2 }, back.Shape);
        Assert.Equal(new[] { 5, -1, int.MaxValue, 0 }, back.Data);
        Assert.Equal(SafeTensorsDtype.I32, SafeTensors.ReadHeader(path)["tok"].Dtype);
        var p64 = Path.Combine(_dir, "ints64.safetensors");
        SafeTensors.SaveInt64(p64, new Dictionary<string, IntTensor<long>> { ["t"] = new(new[] { long.MinValue, 3L }, new[] { 2 }) });
        Assert.Equal(new[] { long.MinValue, 3L }, SafeTensors.LoadInt64(p64, "t").Data);
        Assert.Throws<ArgumentException>(() => SafeTensors.SaveInt32(path, new Dictionary<string, IntTensor<int>> { ["bad"] = new(new[] { 1, 2, 3 }, new[] { 2 }) }));
    }

    // ---- malformed files: one InvalidDataException naming the file and the problem ------------------

    private string WriteRaw(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>A file with the given header text (padded) and data length, as a writer would lay it out.</summary>
    private string WriteWithHeader(string name, string header, int dataBytes, long? headerLengthOverride = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)(headerLengthOverride ?? h.Length));
        h.CopyTo(bytes, 8);
        return WriteRaw(name, bytes);
    }

    private static void Malformed(string path, params string[] fragments)
    {
        foreach (var read in new Action[] { () => SafeTensors.Load(path), () => SafeTensors.LoadMetadata(path), () => SafeTensors.ReadHeader(path) })
        {
            var e = Assert.Throws<InvalidDataException>(read);
            Assert.StartsWith(path + ": ", e.Message);
            foreach (var f in fragments) Assert.Contains(f, e.Message);
        }
    }

    [Fact]
    public void ShorterThanEightBytes()
    {
        Malformed(WriteRaw("tiny.safetensors", new byte[] { 1, 2, 3 }), "truncated", "3 bytes");
        Malformed(WriteRaw("empty.safetensors", Array.Empty<byte>()), "truncated", "0 bytes");
    }

    [Fact]
    public void HeaderLengthBeyondTheFile()
    {
        Malformed(WriteWithHeader("long.safetensors", "{}", 0, headerLengthOverride: 1000), "header length 1000", "exceeds");
        Malformed(WriteWithHeader("huge.safetensors", "{}", 0, headerLengthOverride: long.MaxValue), "exceeds");
    }

    [Fact]
    public void InvalidJson()
    {
        Malformed(WriteWithHeader("json.safetensors", "{\"x\": {\"dtype\": \"F32\",", 0), "not valid JSON");
        Malformed(WriteWithHeader("array.safetensors", "[1, 2]  ", 0), "must be a JSON object");
        var bad = new byte[] { 8, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'"', 0xff, 0xfe, (byte)'"', (byte)':', (byte)'1', (byte)'}' };
        Malformed(WriteRaw("utf8.safetensors", bad), "JSON");
    }

    [Fact]
    public void MissingOrMistypedFields()
    {
        Malformed(WriteWithHeader("nodtype.safetensors", "{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "tensor 'x'", "dtype");
        Malformed(WriteWithHeader("noshape.safetensors", "{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "tensor 'x'", "shape");
        Malformed(WriteWithHeader("negshape.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4), "tensor 'x'", "-1");
        Malformed(WriteWithHeader("nooffsets.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "tensor 'x'", "data_offsets");
        Malformed(WriteWithHeader("backwards.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4), "tensor 'x'", "end before they begin");
        Malformed(WriteWithHeader("meta.safetensors", "{\"__metadata__\":{\"a\":1}}", 0), "__metadata__", "'a'");
        Malformed(WriteWithHeader("dup.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "'x' twice");
    }

    [Fact]
    public void OffsetsBeyondTheFile()
    {
        const string header = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1024],\"data_offsets\":[0,4096]}}";
        var path = WriteWithHeader("trunc.safetensors", header, 1000 - 8 - header.Length);
        Assert.Equal(1000, new FileInfo(path).Length);
        Malformed(path, $"truncated: header says tensor 'x' ends at byte {8 + header.Length + 4096} but the file has 1000 bytes");
    }

    [Fact]
    public void OverlappingTensors()
    {
        Malformed(WriteWithHeader("overlap.safetensors",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24),
            "'a' and 'b' overlap");
    }

    [Fact]
    public void ShapeAndDtypeSizeMismatch()
    {
        Malformed(WriteWithHeader("size.safetensors", "{\"x\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24),
            "tensor 'x'", "[2,3]", "F16", "needs 12 bytes", "span 24");
    }

    [Fact]
    public void UnknownDtype()
    {
        Malformed(WriteWithHeader("dtype.safetensors", "{\"x\":{\"dtype\":\"Q4_K\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2), "tensor 'x'", "unknown dtype 'Q4_K'", "BF16");
        // Enum parsing must not accept numbers for names.
        Malformed(WriteWithHeader("dtype2.safetensors", "{\"x\":{\"dtype\":\"1\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2), "unknown dtype '1'");
    }

    [Fact]
    public void AValidHandWrittenFileStillReads()
    {
        // Guards the malformed tests: the same layout with consistent numbers loads.
        var path = WriteWithHeader("ok.safetensors", "{\"x\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2);
        Assert.Equal(new[] { 0f, 0f }, SafeTensors.Load(path)["x"].ToArray());
    }
}
