using System.Numerics;
using Crt.Tensors.IO.Torch;
using Xunit;

namespace Crt.Tensors.Tests;

/// <summary>
/// crt's reader of torch.save files (fixtures: tests/Crt.Tensors.Tests/data/torch, written by
/// tools/parity/make_llamagen_import.py with Debian's python3-torch): what it reads, what it refuses,
/// and that damaged files fail with one InvalidDataException naming the file — never another exception.
/// </summary>
public sealed class TorchCheckpointTests : IDisposable
{
    private const string Marker = "/tmp/crt-pickle-executed";
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-torch-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Fixture(string name) => SafeTensorsTests.DataFile(Path.Combine("torch", name));

    [Fact]
    public void ReadsFloatTypesViewsAndPlainData()
    {
        using var ckpt = TorchCheckpoint.Open(Fixture("tensors.pt"));
        var root = Assert.IsType<PickleDict>(ckpt.Root);
        var tensors = Assert.IsType<PickleDict>(root["tensors"]);
        var expected = Assert.IsType<PickleDict>(root["expected"]);
        Assert.Equal(new[] { "f32", "transposed", "offset", "f16", "bf16" }, tensors.Items.Select(kv => (string)kv.Key!));
        foreach (var (key, value) in tensors.Items)
        {
            var name = (string)key!;
            var t = Assert.IsType<TorchTensor>(value);
            var want = ckpt.ReadTensor((TorchTensor)expected[name]!, name);
            var got = ckpt.ReadTensor(t, name);
            Assert.Equal(want.Shape, got.Shape);
            Assert.Equal(want.ToArray(), got.ToArray()); // conversions are exact
        }
        var f32 = (TorchTensor)tensors["f32"]!;
        var tr = (TorchTensor)tensors["transposed"]!;
        var off = (TorchTensor)tensors["offset"]!;
        Assert.Same(f32.Storage, tr.Storage); // views share their storage, as in PyTorch
        Assert.False(tr.IsContiguous);
        Assert.Equal(6, off.Offset);
        Assert.Equal(TorchDtype.Float16, ((TorchTensor)tensors["f16"]!).Dtype);
        Assert.Equal(TorchDtype.BFloat16, ((TorchTensor)tensors["bf16"]!).Dtype);
        Assert.Equal(new float[] { 0.5f, -1.25f }, ckpt.ReadTensor((TorchTensor)tensors["f16"]!, "f16").ToArray()[..2]);

        // torch.save of an nn.Parameter goes through torch._utils._rebuild_parameter.
        Assert.Equal(new[] { 0.25f, -4f }, ckpt.ReadTensor(Assert.IsType<TorchTensor>(root["param"]), "param").ToArray());

        var plain = Assert.IsType<List<object?>>(root["plain"]);
        Assert.Equal(1L, plain[0]);
        Assert.Equal(-7L, plain[1]);
        Assert.Equal(2.5, plain[2]);
        Assert.Equal("text", plain[3]);
        Assert.Null(plain[4]);
        Assert.Equal(true, plain[5]);
        Assert.Equal(new object?[] { 1L, 2L }, Assert.IsType<object?[]>(plain[6]));
        var d = Assert.IsType<PickleDict>(plain[7]);
        Assert.Equal(new byte[] { 0, 255 }, d["bytes"]);
        Assert.True(d.TryGet(3L, out var three) && (string)three! == "int key");
        Assert.Equal(BigInteger.Pow(2, 70), plain[8]);
        Assert.Equal(new object?[] { 1L, 2L }, Assert.IsType<PickleSet>(plain[9]).Items.OrderBy(x => (long)x!));
        Assert.Equal(new object?[] { "b", "a" }, Assert.IsType<PickleDict>(root["ordered"]).Items.Select(kv => kv.Key));
    }

    [Fact]
    public void Zip64ArchivesReadTheSame()
    {
        // PyTorch writes zip64 records once a checkpoint passes 4 GiB (c2i_3B_384.pt); this fixture has them throughout.
        var bytes = File.ReadAllBytes(Fixture("tensors_zip64.pt"));
        Assert.True(bytes.AsSpan().IndexOf("PK\u0006\u0006"u8) > 0, "the fixture has no zip64 end-of-directory record");
        using var a = TorchCheckpoint.Open(Fixture("tensors.pt"));
        using var b = TorchCheckpoint.Open(Fixture("tensors_zip64.pt"));
        var ta = (PickleDict)((PickleDict)a.Root!)["tensors"]!;
        var tb = (PickleDict)((PickleDict)b.Root!)["tensors"]!;
        foreach (var (key, value) in ta.Items)
            Assert.Equal(a.ReadTensor((TorchTensor)value!, "a").ToArray(), b.ReadTensor((TorchTensor)tb[(string)key!]!, "b").ToArray());
    }

    [Theory]
    [InlineData("evil_system.pt", "system")]   // protocol 2: GLOBAL posix.system, then REDUCE
    [InlineData("evil_eval.pt", "builtins.eval")] // protocol 4: STACK_GLOBAL builtins.eval
    [InlineData("evil_args.pt", "system")]     // a real torch.save: the weights, plus an "args" that would run os.system
    public void RefusesGlobalsThatCouldRunCodeWithoutRunningThem(string file, string global)
    {
        File.Delete(Marker);
        var path = Fixture(file);
        var e = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(global, e.Message);
        Assert.Contains("never runs code", e.Message);
        Assert.False(File.Exists(Marker), "the pickle's command ran");
    }

    [Fact]
    public void ATensorReachingPastItsStorageIsRefused()
    {
        var path = Fixture("offset_oob.pt");
        var e = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("reaches element 11 of storage data/0, which has 4", e.Message);
    }

    [Fact]
    public void IntegerTensorsAreReadOnlyAsReferencesNotAsWeights()
    {
        using var ckpt = TorchCheckpoint.Open(Fixture("int64.pt"));
        var w = (TorchTensor)((PickleDict)((PickleDict)ckpt.Root!)["model"]!)["w"]!;
        Assert.Equal(TorchDtype.Int64, w.Dtype);
        var e = Assert.Throws<InvalidDataException>(() => ckpt.ReadTensor(w, "model.w"));
        Assert.Contains("'model.w' is int64", e.Message);
        Assert.Contains("float32, float16 and bfloat16", e.Message);
    }

    [Fact]
    public void LegacyAndForeignFilesGetOneSentence()
    {
        var legacy = Fixture("legacy.pt");
        Assert.Contains("legacy (pre-1.6", Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(legacy)).Message);
        var text = Path.Combine(_dir, "notes.pt");
        File.WriteAllText(text, "hello, this is not a checkpoint");
        Assert.Contains("not a PyTorch checkpoint", Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(text)).Message);
        Assert.IsType<FileNotFoundException>(Assert.ThrowsAny<IOException>(() => TorchCheckpoint.Open(Path.Combine(_dir, "missing.pt"))));
    }

    /// <summary>Opens and reads every tensor in the file (what an import does).</summary>
    private static void ReadAll(string path)
    {
        using var ckpt = TorchCheckpoint.Open(path);
        void Walk(object? v)
        {
            switch (v)
            {
                case TorchTensor t when t.Dtype is TorchDtype.Float32 or TorchDtype.Float16 or TorchDtype.BFloat16: ckpt.ReadTensor(t, "t"); break;
                case PickleDict d: foreach (var kv in d.Items) Walk(kv.Value); break;
                case List<object?> l: foreach (var x in l) Walk(x); break;
            }
        }
        Walk(ckpt.Root);
    }

    [Theory]
    [InlineData("tensors.pt")]
    [InlineData("tensors_zip64.pt")]
    public void EveryTruncationIsOneClearError(string file)
    {
        var bytes = File.ReadAllBytes(Fixture(file));
        var path = Path.Combine(_dir, "cut.pt");
        for (int n = 0; n < bytes.Length; n++)
        {
            File.WriteAllBytes(path, bytes.AsSpan(0, n).ToArray());
            var e = Assert.Throws<InvalidDataException>(() => ReadAll(path));
            Assert.StartsWith(path, e.Message);
        }
    }

    [Fact]
    public void EveryFlippedByteEitherReadsOrFailsClearly()
    {
        // Only InvalidDataException may come out, naming the file. Every flip inside data.pkl or a storage
        // fails the entry's CRC; flips in zip records fail a bounds, signature or consistency check, except
        // in fields crt has no use for (timestamps, attributes, torch's alignment padding, the version entry).
        var bytes = File.ReadAllBytes(Fixture("tensors.pt"));
        var path = Path.Combine(_dir, "flip.pt");
        List<ZipEntry> read;
        using (var file = File.OpenHandle(Fixture("tensors.pt")))
            read = ZipDirectory.Read("f", file).Entries.Values.Where(e => e.Name.EndsWith("data.pkl", StringComparison.Ordinal) || e.Name.Contains("/data/", StringComparison.Ordinal)).ToList();
        Assert.Equal(10, read.Count); // data.pkl, the three storages of the views, the five of their copies, the parameter's
        int failed = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            var copy = (byte[])bytes.Clone();
            copy[i] ^= 0xFF;
            File.WriteAllBytes(path, copy);
            bool noticed = false;
            try { ReadAll(path); }
            catch (InvalidDataException e) { Assert.StartsWith(path, e.Message); noticed = true; failed++; }
            if (read.Any(e => i >= e.DataOffset && i < e.DataOffset + e.Size)) Assert.True(noticed, $"a flip at byte {i}, inside an entry crt reads, went unnoticed");
        }
        Assert.True(failed > bytes.Length / 2, $"only {failed} of {bytes.Length} flips were noticed");

        // A flipped weight byte is caught by the CRC, with the entry named.
        float[] f32;
        using (var ckpt = TorchCheckpoint.Open(Fixture("tensors.pt")))
            f32 = ckpt.ReadTensor((TorchTensor)((PickleDict)((PickleDict)ckpt.Root!)["tensors"]!)["f32"]!, "f32").ToArray();
        int at = bytes.AsSpan().IndexOf(System.Runtime.InteropServices.MemoryMarshal.AsBytes(f32.AsSpan()));
        Assert.True(at > 0, "float32 storage not found in the fixture");
        var bad = (byte[])bytes.Clone();
        bad[at + 1] ^= 0x01;
        File.WriteAllBytes(path, bad);
        Assert.Contains("fails its CRC check", Assert.Throws<InvalidDataException>(() => ReadAll(path)).Message);
    }

    [Fact]
    public void EveryMutationOfThePickleEitherReadsOrFailsClearly()
    {
        // The unpickler on its own, past the CRC: every byte of a real data.pkl replaced by each of a few
        // values, and every prefix. Only InvalidDataException may come out (no index, overflow or cast errors).
        var path = Fixture("tensors.pt");
        byte[] pickle;
        Func<string, ZipEntry?> storage;
        using (var file = File.OpenHandle(path))
        {
            var zip = ZipDirectory.Read(path, file);
            var prefix = zip.Entries.Keys.Single(k => k.EndsWith("/data.pkl", StringComparison.Ordinal))[..^"data.pkl".Length];
            pickle = zip.ReadEntry(file, zip.Entries[prefix + "data.pkl"]);
            storage = key => zip.Entries.TryGetValue(prefix + "data/" + key, out var e) ? e : null;
        }
        Assert.NotNull(PickleMachine.Load(pickle, "p", new TorchPickleHooks("p", storage)));
        foreach (byte value in new byte[] { 0x00, 0x01, 0x7F, 0x80, 0xFF, (byte)'(', (byte)'R', (byte)'b' })
            for (int i = 0; i < pickle.Length; i++)
            {
                var copy = (byte[])pickle.Clone();
                copy[i] = value;
                try { PickleMachine.Load(copy, "p", new TorchPickleHooks("p", storage)); }
                catch (InvalidDataException) { }
            }
        for (int n = 0; n < pickle.Length; n++)
            Assert.Throws<InvalidDataException>(() => PickleMachine.Load(pickle[..n], "p", new TorchPickleHooks("p", storage)));
    }
}
