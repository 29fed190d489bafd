using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Crt.Tensors.IO.Torch;

/// <summary>
/// A file written by torch.save (PyTorch ≥ 1.6's zip format: ARCHIVE/data.pkl, a pickle whose tensors
/// refer to raw little-endian storages ARCHIVE/data/&lt;key&gt;), read without Python. The pickle goes
/// through crt's restricted unpickler (<see cref="TorchPickleHooks"/>): only tensors and plain data come
/// out, nothing in the file is ever run. <see cref="Root"/> is the object torch.save was given; tensors
/// in it are <see cref="TorchTensor"/> references, read (and CRC-checked) on request.
/// </summary>
public sealed class TorchCheckpoint : IDisposable
{
    private readonly SafeFileHandle _file;
    private readonly ZipDirectory _zip;
    private readonly string _prefix;

    public string Path { get; }
    /// <summary>What torch.save saved: a PickleDict, list, tuple, TorchTensor, number, string, … (see PickleValues.cs).</summary>
    public object? Root { get; }

    private TorchCheckpoint(string path, SafeFileHandle file, ZipDirectory zip, string prefix, object? root)
    {
        Path = path; _file = file; _zip = zip; _prefix = prefix; Root = root;
    }

    public static TorchCheckpoint Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file");
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        try
        {
            CheckMagic(path, file);
            var zip = ZipDirectory.Read(path, file);
            string prefix = FindArchive(path, zip);
            if (zip.Entries.TryGetValue(prefix + "byteorder", out var order))
            {
                var text = System.Text.Encoding.ASCII.GetString(zip.ReadEntry(file, order)).Trim();
                if (text != "little") throw ZipDirectory.Bad(path, $"storages are stored {text}-endian; crt reads little-endian checkpoints only");
            }
            var pickle = zip.ReadEntry(file, zip.Entries[prefix + "data.pkl"]);
            var hooks = new TorchPickleHooks(path, key => zip.Entries.TryGetValue(prefix + "data/" + key, out var e) ? e : null);
            var root = PickleMachine.Load(pickle, $"{path} ({prefix}data.pkl)", hooks);
            return new TorchCheckpoint(path, file, zip, prefix, root);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The tensor as float32 (from float32, float16 or bfloat16 storage); <paramref name="name"/> names it in errors.</summary>
    public Tensor ReadTensor(TorchTensor t, string name)
    {
        var data = new float[t.Numel];
        ReadInto(t, data, name);
        return Tensor.FromArray(data, t.Shape.Length == 0 ? Array.Empty<int>() : t.Shape);
    }

    /// <summary>Reads the tensor's elements, row-major, into <paramref name="dst"/> (its length must be the element count).</summary>
    public void ReadInto(TorchTensor t, Span<float> dst, string name)
    {
        var dtype = t.Dtype switch
        {
            TorchDtype.Float32 => SafeTensorsDtype.F32,
            TorchDtype.Float16 => SafeTensorsDtype.F16,
            TorchDtype.BFloat16 => SafeTensorsDtype.BF16,
            _ => throw new InvalidDataException($"{Path}: tensor '{name}' is {t.Dtype.ToString().ToLowerInvariant()}; crt imports float32, float16 and bfloat16 weights"),
        };
        if (dst.Length != t.Numel) throw new ArgumentException($"{Path}: tensor '{name}' has {t.Numel} elements, the destination {dst.Length}");
        if (t.Numel == 0) return;
        var bytes = _zip.ReadEntry(_file, _zip.Entries[_prefix + "data/" + t.Storage.Key]);
        int es = TorchStorage.ElementSize(t.Dtype);
        if (t.IsContiguous)
        {
            FloatConvert.ToSingle(bytes.AsSpan(checked((int)(t.Offset * es)), dst.Length * es), dtype, dst, out _);
            return;
        }
        // A strided view (bounds checked when the pickle was read): convert the storage, then gather.
        var all = new float[t.Storage.Numel];
        FloatConvert.ToSingle(bytes, dtype, all, out _);
        int rank = t.Shape.Length;
        var index = new int[rank];
        for (int i = 0; i < dst.Length; i++)
        {
            long src = t.Offset;
            for (int d = 0; d < rank; d++) src += index[d] * t.Stride[d];
            dst[i] = all[src];
            for (int d = rank - 1; d >= 0; d--)
            {
                if (++index[d] < t.Shape[d]) break;
                index[d] = 0;
            }
        }
    }

    public void Dispose() => _file.Dispose();

    private static void CheckMagic(string path, SafeFileHandle file)
    {
        Span<byte> head = stackalloc byte[4];
        if (RandomAccess.GetLength(file) < 4) throw ZipDirectory.Bad(path, "the file is too short to be a PyTorch checkpoint; it is truncated or empty");
        ZipDirectory.ReadAt(path, file, head, 0);
        if (head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return;
        if (head[0] == 0x80 && head[1] is >= 2 and <= 5)
            throw ZipDirectory.Bad(path, "a legacy (pre-1.6, non-zip) torch.save file, which crt does not read; save it again with a current PyTorch: torch.save(torch.load(F), F2)");
        throw ZipDirectory.Bad(path, "not a PyTorch checkpoint (torch.save writes a zip archive starting with 'PK'); the file is damaged or of another kind");
    }

    /// <summary>The archive folder ("archive/", or the file's stem in older PyTorch) that holds data.pkl.</summary>
    private static string FindArchive(string path, ZipDirectory zip)
    {
        var roots = zip.Entries.Keys.Where(k => k.EndsWith("/data.pkl", StringComparison.Ordinal) && k.IndexOf('/') == k.Length - "/data.pkl".Length)
            .Select(k => k[..^"data.pkl".Length]).ToList();
        if (roots.Count == 1) return roots[0];
        if (roots.Count > 1) throw ZipDirectory.Bad(path, $"the archive holds {roots.Count} pickles ({string.Join(", ", roots)}); a torch.save file has one");
        if (zip.Entries.Keys.Any(k => k.EndsWith("/constants.pkl", StringComparison.Ordinal) || k.Contains("/code/", StringComparison.Ordinal)))
            throw ZipDirectory.Bad(path, "a TorchScript archive (torch.jit.save), not a torch.save checkpoint of a state dict");
        throw ZipDirectory.Bad(path, "a zip archive without data.pkl, so not a torch.save checkpoint");
    }
}
