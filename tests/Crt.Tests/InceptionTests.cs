using System.Text.Json.Nodes;
using Crt.Cli;
using Crt.Evaluation;
using Crt.Tensors;
using Crt.Tensors.IO;
using Crt.Training;
using Xunit;

namespace Crt.Tests;

/// <summary>
/// InceptionV3-FID against tools/parity/make_inception.py (torchvision 0.14's blocks and pytorch-fid's
/// FID blocks restated, on the same hash-filled weights). Tolerance: max |diff| ≤ 2e-5 × the tensor's
/// largest magnitude (worst seen 1.5e-6: float32 convolutions summed in another order through ~40 layers).
/// </summary>
[Collection("console")]
public sealed class InceptionTests : IDisposable
{
    private const double Rtol = 2e-5;
    private static readonly Lazy<InceptionV3Fid> Filled = new(HashFilled);
    private static readonly Lazy<Dictionary<string, Tensor>> Fixture = new(() => SafeTensors.Load(TestData.File("parity/inception.safetensors")));
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-inception-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>make_inception.py's fill(): tensor j of the sorted state dict (num_batches_tracked skipped) from hash_uniform(i, j).</summary>
    private static InceptionV3Fid HashFilled()
    {
        var net = new InceptionV3Fid();
        var state = net.StateDict().Where(kv => !kv.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal))
            .OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        for (int j = 0; j < state.Count; j++)
        {
            var (key, t) = state[j];
            var s = t.Span;
            double heScale = Math.Sqrt(6.0 / (t.Size / t.Shape[0]));
            for (int i = 0; i < s.Length; i++)
            {
                double u = TokenizerParityTests.HashUniform(i, j);
                s[i] = (float)(key.EndsWith("conv.weight", StringComparison.Ordinal) || key == "fc.weight" ? u * heScale
                    : key.EndsWith("bn.weight", StringComparison.Ordinal) ? 1 + 0.1 * u
                    : key.EndsWith("bn.running_var", StringComparison.Ordinal) ? 1 + 0.5 * u
                    : 0.1 * u);
            }
        }
        return net;
    }

    private static void Close(string key, Tensor actual) =>
        TestData.AssertClose(Fixture.Value[key].ToArray(), actual.ToArray(), Rtol, key);

    [Fact]
    public void StateDictHasTheKeysAndShapesConvertInceptionWrites()
    {
        var meta = SafeTensors.LoadMetadata(TestData.File("parity/inception.safetensors"));
        var torchKeys = JsonNode.Parse(meta["state_dict_shapes"])!.AsObject();
        var ours = new InceptionV3Fid().StateDict();
        Assert.Equal(torchKeys.Select(k => k.Key).OrderBy(k => k, StringComparer.Ordinal), ours.Keys.OrderBy(k => k, StringComparer.Ordinal));
        foreach (var (k, shape) in torchKeys) Assert.Equal(shape!.AsArray().Select(d => (int)d!).ToArray(), ours[k].Shape);
        Assert.Contains("Mixed_7c.branch3x3dbl_3b.bn.running_var", ours.Keys);
        Assert.Equal(23_850_960, new InceptionV3Fid().ParameterCount); // PyTorch's count for fid_inception_v3()
    }

    [Fact]
    public void BlocksSharedWithTorchvisionMatch()
    {
        var net = Filled.Value;
        var f = Fixture.Value;
        using var noGrad = Tensor.NoGrad();
        Close("stem", net.Stem(f["x"]));
        Close("b_out", net.Mixed_6a.Forward(f["b_in"]));
        Close("d_out", net.Mixed_7a.Forward(f["d_in"]));
    }

    [Fact]
    public void FidBlocksMatchPytorchFid()
    {
        var net = Filled.Value;
        var f = Fixture.Value;
        using var noGrad = Tensor.NoGrad();
        Close("a_out", net.Mixed_5b.Forward(f["a_in"]));
        Close("c_out", net.Mixed_6b.Forward(f["c_in"]));
        Close("e1_out", net.Mixed_7b.Forward(f["e1_in"]));
        Close("e2_out", net.Mixed_7c.Forward(f["e2_in"]));
    }

    [Fact]
    public void WholeNetworkGivesPool3AndLogits()
    {
        var f = Fixture.Value;
        using var noGrad = Tensor.NoGrad();
        var (pool3, logits) = Filled.Value.ForwardUnresized(f["x"]);
        Close("pool3", pool3);
        Close("logits", logits);
    }

    [Fact]
    public void GrayImagesAreResizedTo299AndRepeatedToRgb()
    {
        var f = Fixture.Value;
        using var noGrad = Tensor.NoGrad();
        var (pool3, logits) = Filled.Value.Forward(f["gray"]);
        Close("gray_pool3", pool3);
        Close("gray_logits", logits);
    }

    [Fact]
    public void EmbedGivesPool3AndTheSoftmaxOfTheBiasFreeLogits()
    {
        var net = Filled.Value;
        var f = Fixture.Value;
        var gray = f["gray"];
        var (feats, probs) = net.Embed(Ops.Concat(new[] { gray, Ops.MulScalar(gray, -1f) }, 0));
        Assert.Equal((2 * 2048, 2 * 1008), (feats.Length, probs.Length));
        TestData.AssertClose(f["gray_pool3"].ToArray(), feats[..2048], Rtol, "embedded pool3");
        // TF's IS graph: softmax(pool3 · Wᵀ) without fc's bias.
        var pool3 = f["gray_pool3"].ToArray();
        var w = net.Fc.Weight.ToArray();
        var z = Enumerable.Range(0, 1008).Select(c => Enumerable.Range(0, 2048).Sum(i => (double)pool3[i] * w[c * 2048 + i])).ToArray();
        double max = z.Max(), norm = z.Sum(v => Math.Exp(v - max));
        TestData.AssertClose(z.Select(v => (float)(Math.Exp(v - max) / norm)).ToArray(), probs[..1008], 1e-3, "IS probabilities");
        Assert.NotEqual(feats[..2048], feats[2048..]); // the second (negated) image is embedded on its own
        Assert.Equal(InceptionV3Fid.Architecture, net.Name);
    }

    [Fact]
    public void LoadsItsWeightsFileAndNamesWhatIsWrongWithOne()
    {
        // As the converter writes it, less num_batches_tracked (it only counts training steps; a converter may drop it).
        var state = Filled.Value.StateDict().Where(kv => !kv.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal)).ToDictionary();
        string Write(string name, Dictionary<string, Tensor> tensors)
        {
            var p = Path.Combine(_dir, name);
            SafeTensors.Save(p, tensors);
            return p;
        }
        var path = Write("inception.safetensors", state);
        var loaded = InceptionV3Fid.FromFile(path);
        using (Tensor.NoGrad()) Close("logits", loaded.ForwardUnresized(Fixture.Value["x"]).Logits);

        var missingFile = Assert.Throws<FileNotFoundException>(() => InceptionV3Fid.FromFile(Path.Combine(_dir, "none.safetensors")));
        Assert.Contains("none.safetensors", missingFile.Message);
        Assert.Contains("convert_inception.py", missingFile.Message);

        // The header is checked before any data is read, so small files show each problem.
        var onlyFc = Write("only-fc.safetensors", new() { ["fc.weight"] = state["fc.weight"] });
        var missing = Assert.Throws<InvalidDataException>(() => InceptionV3Fid.FromFile(onlyFc));
        Assert.Contains("only-fc.safetensors", missing.Message);
        Assert.Contains("'Conv2d_1a_3x3.conv.weight' is missing (471 missing in all)", missing.Message); // 472 tensors besides the counters

        var imagenetFc = Write("imagenet-fc.safetensors", new() { ["fc.weight"] = Tensor.Zeros(1000, 2048) });
        var shaped = Assert.Throws<InvalidDataException>(() => InceptionV3Fid.FromFile(imagenetFc));
        Assert.Contains("imagenet-fc.safetensors", shaped.Message);
        Assert.Contains("'fc.weight' is [1000,2048], InceptionV3-FID needs [1008,2048]", shaped.Message);

        var aux = Write("aux.safetensors", new() { ["fc.weight"] = state["fc.weight"], ["AuxLogits.fc.weight"] = Tensor.Zeros(1000, 768) });
        var extra = Assert.Throws<InvalidDataException>(() => InceptionV3Fid.FromFile(aux));
        Assert.Contains("aux.safetensors", extra.Message);
        Assert.Contains("unexpected tensor 'AuxLogits.fc.weight'", extra.Message);

        var truncated = Path.Combine(_dir, "truncated.safetensors");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var cut = Assert.Throws<InvalidDataException>(() => InceptionV3Fid.FromFile(truncated));
        Assert.Contains("truncated.safetensors", cut.Message);
    }

    [Fact]
    public void RejectsImagesItCannotRead()
    {
        var net = Filled.Value;
        Assert.Contains("[B, 1 or 3, H, W]", Assert.Throws<ArgumentException>(() => net.Forward(Tensor.Zeros(1, 2, 32, 32))).Message);
        Assert.Contains("H ≥ 75", Assert.Throws<ArgumentException>(() => net.ForwardUnresized(Tensor.Zeros(1, 3, 32, 32))).Message);
    }

    [Fact]
    public void CrtEvalWithInceptionNamesItInEveryKeyAndBothCommandsRefuseAMissingFile()
    {
        var weights = Path.Combine(_dir, "inception.safetensors");
        Filled.Value.Save(weights);
        var run = Path.Combine(_dir, "tok");
        var tiny = TokenizerTrainConfig.ForPreset("vq-tiny") with { Steps = 1, BatchSize = 4, ValEvery = 1, ValImages = 4, CheckpointEvery = 1, ImageEvery = 1 };
        TokenizerTrainer.Create(tiny, run, quiet: true, log: _ => { }).Train();
        var outPath = Path.Combine(_dir, "eval.json");
        Assert.Equal(0, Program.Main(new[] { "eval", "--tokenizer", run, "--images", "8", "--inception", weights, "--quiet", "--out", outPath }));
        var json = JsonNode.Parse(File.ReadAllText(outPath))!.AsObject();
        Assert.Equal(InceptionV3Fid.Architecture, (string?)json["feature_net"]);
        Assert.True((double)json["rfid_inception-v3-fid"]! > 0);
        Assert.Equal(weights, (string?)json["feature_net_weights"]);
        Assert.False(json.ContainsKey("feature_net_test_accuracy")); // the feature net was not trained or used
        Assert.DoesNotContain(json, kv => kv.Key.Contains("fmnist", StringComparison.Ordinal));

        foreach (var command in new[] { new[] { "eval", "--tokenizer", run }, new[] { "features", "check" } })
        {
            var err = new StringWriter();
            var old = Console.Error;
            Console.SetError(err);
            int code;
            try { code = Program.Main(command.Concat(new[] { "--inception", Path.Combine(_dir, "absent.safetensors") }).ToArray()); }
            finally { Console.SetError(old); }
            Assert.Equal(1, code);
            Assert.Contains("absent.safetensors", err.ToString());
            Assert.Single(err.ToString().Trim().Split('\n'));
        }
    }
}
