using System.Text.Json.Nodes;
using Crt.Tensors;
using Crt.Tensors.IO;
using Crt.Tokenizer;
using Xunit;

namespace Crt.Tests;

public sealed class LpipsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-lpips-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>make_lpips.py's weights: hash_uniform(i, j)·√(6/fan_in) for parameter j in sorted-name order.</summary>
    private static Lpips HashFilled()
    {
        var lpips = new Lpips();
        var named = lpips.NamedParameters().OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
        for (int j = 0; j < named.Count; j++)
        {
            var p = named[j].Parameter;
            double bound = Math.Sqrt(6.0 / (p.Size / p.Shape[0]));
            var s = p.Span;
            for (int i = 0; i < s.Length; i++) s[i] = (float)(TokenizerParityTests.HashUniform(i, j) * bound);
        }
        lpips.Eval();
        return lpips;
    }

    [Fact]
    public void MatchesLlamaGensLpipsOnTorchvisionsVgg16()
    {
        var path = TestData.File("parity/lpips.safetensors");
        var f = SafeTensors.Load(path);
        var lpips = HashFilled();

        // Same state-dict names and shapes as the PyTorch module built from torchvision's vgg16().features.
        var torchKeys = JsonNode.Parse(SafeTensors.LoadMetadata(path)["state_dict_shapes"])!.AsObject();
        var ours = lpips.StateDict();
        Assert.Equal(torchKeys.Select(k => k.Key).OrderBy(k => k), ours.Keys.OrderBy(k => k));
        foreach (var (k, shape) in torchKeys) Assert.Equal(shape!.AsArray().Select(d => (int)d!).ToArray(), ours[k].Shape);

        var a = f["a"].Clone(); a.RequiresGrad = true;
        var d = lpips.Forward(a, f["b"]);
        var expected = f["lpips"].ToArray();
        for (int i = 0; i < 2; i++) Assert.Equal(expected[i], d.Span[i], tolerance: 2e-4 * Math.Abs(expected[i]));
        Ops.Sum(d).Backward();
        var g = a.Grad!.ToArray(); var eg = f["grad_a"].ToArray();
        double scale = eg.Max(v => Math.Abs((double)v)), err = eg.Zip(g, (x, y) => Math.Abs((double)x - y)).Max();
        Assert.True(err <= 1e-3 * scale, $"LPIPS input gradient: max |diff| {err:G3} vs scale {scale:G3}");
        Assert.All(lpips.Parameters(), p => Assert.Null(p.Grad)); // frozen
    }

    [Fact]
    public void LoadsWeightsFromAFileAndNamesAWrongOne()
    {
        var source = HashFilled();
        var path = Path.Combine(_dir, "lpips.safetensors");
        source.Save(path);
        var loaded = Lpips.FromFile(path);
        var x = new Rng(1).Uniform(new[] { 1, 1, 32, 32 }, -1, 1);
        var y = new Rng(2).Uniform(new[] { 1, 1, 32, 32 }, -1, 1);
        using (Tensor.NoGrad())
        {
            Assert.Equal(source.Forward(x, y).Item(), loaded.Forward(x, y).Item());
            Assert.Equal(0f, loaded.Forward(x, x).Item());
        }
        var missing = Assert.Throws<FileNotFoundException>(() => Lpips.FromFile(Path.Combine(_dir, "none.safetensors")));
        Assert.Contains("none.safetensors", missing.Message);
        var wrong = Path.Combine(_dir, "wrong.safetensors");
        SafeTensors.Save(wrong, new Dictionary<string, Tensor> { ["lin0.model.1.weight"] = Tensor.Zeros(1, 64, 1, 1) });
        var bad = Assert.Throws<InvalidDataException>(() => Lpips.FromFile(wrong));
        Assert.Contains("wrong.safetensors", bad.Message);
    }
}
