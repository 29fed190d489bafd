using System.IO.Compression;
using Crt.Data;
using Crt.Tensors;
using Crt.Tensors.IO;
using Crt.Training;

namespace Crt.Fuzz;

/// <summary>
/// Small valid inputs in crt's own formats, written with crt's own writers: AFL starts from these. Small on
/// purpose (AFL mutates small files far faster); fuzz/make_seeds.py adds what crt cannot write itself.
/// </summary>
public static class Seeds
{
    public static void Write(string root)
    {
        string Dir(string target) { var d = Path.Combine(root, target); Directory.CreateDirectory(d); return d; }

        var small = Tensor.FromArray([0.5f, -1f, 2f, 0f, 3.25f, -0.125f], 2, 3);
        SafeTensors.Save(Path.Combine(Dir("safetensors"), "f32.safetensors"),
            new Dictionary<string, Tensor> { ["w"] = small, ["b"] = Tensor.FromArray([1f], 1) }, new Dictionary<string, string> { ["step"] = "3" });
        SafeTensors.SaveInt32(Path.Combine(Dir("safetensors"), "i32.safetensors"),
            new Dictionary<string, IntTensor<int>> { ["codes"] = new([1, 2, 3, 4], [2, 2]) });
        SafeTensors.SaveInt64(Path.Combine(Dir("safetensors"), "i64.safetensors"),
            new Dictionary<string, IntTensor<long>> { ["step"] = new([7L], [1]) });

        string stateDir = Path.Combine(Path.GetTempPath(), $"crt-seeds-{Environment.ProcessId}");
        Directory.CreateDirectory(stateDir);
        new CheckpointFiles().Rng("data", new Rng(1)).Rng("dropout", new Rng(2)).Save(stateDir, 12, 3.5e9, seconds: 42.5);
        File.Copy(Path.Combine(stateDir, "state.json"), Path.Combine(Dir("state"), "state.json"), overwrite: true);
        Directory.Delete(stateDir, recursive: true);

        var header = new TokenStoreHeader
        {
            TokenizerSha256 = new string('a', 64), GridHeight = 2, GridWidth = 2, CodebookSize = 300, NumClasses = 3, Count = 2, Variants = 1,
        };
        TokenStore.Write(Path.Combine(Dir("tokens"), "u16.tokens"), header, [0, 299, 5, 6, 7, 8, 9, 10], [0, 2]);
        TokenStore.Write(Path.Combine(Dir("tokens"), "u8.tokens"), header with { CodebookSize = 16, Variants = 2, Count = 1, VariantNames = ["original", "flip"] },
            [0, 1, 2, 3, 4, 5, 6, 15], [1]);

        byte[] images = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 255, 0, 9, 8];
        byte[] labels = [0, 0, 8, 1, 0, 0, 0, 2, 3, 7];
        File.WriteAllBytes(Path.Combine(Dir("idx"), "images-idx3"), images);
        File.WriteAllBytes(Path.Combine(Dir("idx"), "labels-idx1"), labels);
        File.WriteAllBytes(Path.Combine(Dir("idx"), "images-idx3.gz"), Gzip(images));

        NpzImages.Write(Path.Combine(Dir("npz"), "rgb.npz"),
            Tensor.FromArray(Enumerable.Range(0, 2 * 3 * 2 * 2).Select(i => i / 12f - 1f).ToArray(), 2, 3, 2, 2));
        NpzFile.WriteUInt8(Path.Combine(Dir("npz"), "gray.npz"), "arr_0", [0, 64, 128, 255], 1, 2, 2);
    }

    private static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.SmallestSize)) gz.Write(data);
        return ms.ToArray();
    }
}
