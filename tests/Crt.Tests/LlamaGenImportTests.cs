using System.Text.Json.Nodes;
using Crt.Cli;
using Crt.Evaluation;
using Crt.Generator;
using Crt.Tensors;
using Crt.Tensors.IO;
using Crt.Tensors.IO.Torch;
using Crt.Tokenizer;
using Crt.Training;
using Xunit;

namespace Crt.Tests;

/// <summary>
/// crt import llamagen on checkpoints torch.save wrote from the LlamaGen module restatements
/// (tools/parity/make_llamagen_import.py; tests/Crt.Tests/data/llamagen): the imported runs load through
/// crt's normal path and compute what PyTorch computed with the same weights.
/// </summary>
[Collection("console")]
public sealed class LlamaGenImportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-import-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly Lazy<Dictionary<string, Tensor>> Outputs = new(() => SafeTensors.Load(TestData.File("llamagen/outputs.safetensors")));
    private static string Vq => TestData.File("llamagen/vq.pt");
    private static string GptFile => TestData.File("llamagen/gpt.pt");
    private static int[] Ints(string name) => SafeTensors.LoadInt32(TestData.File("llamagen/outputs.safetensors"), name).Data;

    [Fact]
    public void ImportedTokenizerCodesAndReconstructsAsPyTorch()
    {
        var run = Path.Combine(_dir, "tok");
        var r = LlamaGenImport.Run(Vq, run, new LlamaGenImportOptions { ImageSize = 32 });
        Assert.Equal(LlamaGenKind.Tokenizer, r.Kind);
        Assert.Equal("model", r.Entry);
        Assert.Equal(1234, r.Step);
        Assert.Equal(new Dictionary<string, int> { ["float32"] = 76, ["float16"] = 104 }.OrderBy(kv => kv.Key), r.Dtypes.OrderBy(kv => kv.Key));

        var tok = TokenizerCheckpoint.Load(run); // crt's normal loading path
        var m = tok.Config.Model;
        Assert.Equal((1, 32, 1, 32, 256, 8, 32), (m.InChannels, m.Channels, m.NumResBlocks, m.ZChannels, m.CodebookSize, m.CodeDim, m.ImageSize));
        Assert.Equal(new[] { 1, 1, 1 }, m.ChannelMultipliers);
        Assert.False(tok.Config.Crt.Enabled);
        Assert.Equal(("fashion-mnist", 2), (tok.Config.Data, tok.Config.Pad));
        Assert.Equal(1234, tok.Step);

        var x = Outputs.Value["x"];
        Tensor rec;
        int[] codes;
        using (Tensor.NoGrad())
        {
            var (reconstruction, q) = tok.Model.Forward(x);
            rec = reconstruction;
            codes = q.Indices;
        }
        Assert.Equal(Ints("indices"), codes);
        TestData.AssertClose(Outputs.Value["rec"].ToArray(), rec.ToArray(), 1e-4, "reconstruction");
        // LlamaGen's usage window came along (its buffer was filled with index·7 mod 256).
        Assert.Equal(7f * 65535 % 256, tok.Model.Quantize.CodebookUsed.ToArray()[65535]);

        var info = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "import.json")))!.AsObject();
        Assert.Equal(Path.GetFullPath(Vq), (string?)info["source"]);
        Assert.Equal(new[] { "model", "discriminator", "steps", "args" }, info["file_entries"]!.AsArray().Select(n => (string)n!));
        Assert.Equal(64, ((string?)info["source_sha256"])!.Length);
    }

    [Fact]
    public void ImportedGptGivesPyTorchsLogits()
    {
        var run = Path.Combine(_dir, "gpt");
        var r = LlamaGenImport.Run(GptFile, run, new LlamaGenImportOptions { BlockSize = 64 });
        Assert.Equal(LlamaGenKind.Gpt, r.Kind);
        Assert.Equal("gpt-t1", r.Preset); // 2 layers, width 64: heads from crt's preset table
        Assert.StartsWith("(the whole file", r.Entry);
        Assert.Equal(new Dictionary<string, int> { ["bfloat16"] = 18 }, r.Dtypes);

        var gpt = GptCheckpoint.Load(run);
        var c = gpt.Model.Config;
        Assert.Equal((2, 2, 64, 256, 10, 64, 192), (c.Layers, c.Heads, c.Dim, c.VocabSize, c.NumClasses, c.BlockSize, c.FfnHidden));
        var grids = Ints("grids");
        var classes = Ints("classes");
        var inputs = new int[2 * 63];
        for (int b = 0; b < 2; b++) Array.Copy(grids, b * 64, inputs, b * 63, 63);
        Tensor logits;
        using (Tensor.NoGrad()) logits = gpt.Model.Forward(classes, inputs, 2, 63);
        Assert.Equal(new[] { 2, 64, 256 }, logits.Shape);
        TestData.AssertClose(Outputs.Value["logits"].ToArray(), logits.ToArray(), 1e-4, "logits");
    }

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        Console.SetOut(o);
        Console.SetError(e);
        try { return (Program.Main(args), o.ToString(), e.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }

    [Fact]
    public void CommandLineImportThenSampleAndEvalUseTheRuns()
    {
        var (code, help, _) = Cli("--help");
        Assert.Equal(0, code);
        Assert.Contains("import llamagen", help);

        string tok = Path.Combine(_dir, "tok"), gpt = Path.Combine(_dir, "gpt");
        (code, var output, var err) = Cli("import", "llamagen", Vq, "--image-size", "32", "--out", tok);
        Assert.True(code == 0, err);
        Assert.Contains("a LlamaGen tokenizer", output);
        (code, output, err) = Cli("import", "llamagen", GptFile, "--tokenizer", tok, "--out", gpt);
        Assert.True(code == 0, err);
        Assert.Contains("64 tokens per image (the tokenizer)", output);

        var samples = Path.Combine(_dir, "samples");
        (code, _, err) = Cli("sample", "--gpt", gpt, "--tokenizer", tok, "--classes", "1,7", "--per-class", "2", "--out", samples, "--quiet");
        Assert.True(code == 0, err);
        Assert.True(File.Exists(Path.Combine(samples, "grid.png")));

        // crt eval on both runs; InceptionV3 with random weights stands in for the FID weights (only the plumbing is tested).
        var weights = Path.Combine(_dir, "inception.safetensors");
        new InceptionV3Fid().Save(weights);
        var rec = Path.Combine(_dir, "rec.json");
        (code, _, err) = Cli("eval", "--tokenizer", tok, "--images", "6", "--inception", weights, "--quiet", "--out", rec);
        Assert.True(code == 0, err);
        Assert.True(JsonNode.Parse(File.ReadAllText(rec))!["psnr"] is not null);
        var gen = Path.Combine(_dir, "gen.json");
        (code, _, err) = Cli("eval", "--tokenizer", tok, "--gpt", gpt, "--images", "6", "--samples", "10", "--inception", weights, "--quiet", "--out", gen);
        Assert.True(code == 0, err);
        Assert.True((double)JsonNode.Parse(File.ReadAllText(gen))!["fid_inception-v3-fid"]! >= 0);

        // The pair is checked: a tokenizer with other weights did not make the GPT's codes.
        var other = Path.Combine(_dir, "tok2");
        CopyDirectory(tok, other);
        var weightsFile = Directory.GetFiles(other, "model.safetensors", SearchOption.AllDirectories).Single();
        var changed = TokenizerCheckpoint.Load(other).Model;
        changed.Quantize.Embedding.Weight.Span[0] += 1;
        changed.Save(weightsFile);
        (code, _, err) = Cli("sample", "--gpt", gpt, "--tokenizer", other, "--classes", "1", "--per-class", "1", "--out", samples);
        Assert.Equal(1, code);
        Assert.Contains("did not make the GPT's training tokens", err);
        (code, _, err) = Cli("import", "llamagen", Vq, "--out", tok);
        Assert.Equal(1, code);
        Assert.Contains("already holds a run", err);
        foreach (var (command, run) in new[] { ("tokenizer", tok), ("gpt", gpt) })
        {
            (code, _, err) = Cli(command, "train", "--resume", "--out", run, "--quiet");
            Assert.Equal(1, code);
            Assert.Contains("an imported run (import.json) holds weights only", err);
        }
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var d in Directory.GetDirectories(from, "*", SearchOption.AllDirectories)) Directory.CreateDirectory(d.Replace(from, to));
        Directory.CreateDirectory(to);
        // not the run lock: it belongs to the process writing the run (this one, through the in-process CLI), not to the run
        foreach (var f in Directory.GetFiles(from, "*", SearchOption.AllDirectories).Where(f => !Path.GetFileName(f).StartsWith(".lock", StringComparison.Ordinal)))
            File.Copy(f, f.Replace(from, to));
    }

    [Fact]
    public void WrongOrForeignCheckpointsAreOneClearLine()
    {
        string Fails(params string[] args)
        {
            var (code, _, err) = Cli(args);
            Assert.Equal(1, code);
            Assert.Single(err.Trim().Split('\n'));
            Assert.DoesNotContain("   at ", err);
            return err;
        }
        var out1 = Path.Combine(_dir, "x");
        Assert.Contains("no entry 'ema'; the file holds: model, discriminator, steps, args", Fails("import", "llamagen", Vq, "--key", "ema", "--out", out1));
        Assert.Contains("neither a LlamaGen VQ tokenizer", Fails("import", "llamagen", Vq, "--key", "discriminator", "--out", out1));
        var wrong = Fails("import", "llamagen", Vq, "--set", "model.num_res_blocks=2", "--out", out1);
        Assert.Contains("do not fit a tokenizer", wrong);
        Assert.Contains("missing (", wrong);
        Assert.Contains("encoder.conv_blocks.0.res.1.conv1.weight", wrong);
        Assert.Contains("holds a GPT; --image-size and --data apply to a tokenizer", Fails("import", "llamagen", GptFile, "--image-size", "32", "--out", out1));
        Assert.Contains("dim 64 is not divisible by heads 3", Fails("import", "llamagen", GptFile, "--heads", "3", "--out", out1));
        var evil = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Vq)!, "../../../Crt.Tensors.Tests/data/torch/evil_args.pt"));
        Assert.Contains("never runs code", Fails("import", "llamagen", evil, "--out", out1));
        var cut = Path.Combine(_dir, "cut.pt");
        var bytes = File.ReadAllBytes(GptFile);
        File.WriteAllBytes(cut, bytes[..(bytes.Length - 100)]);
        Assert.Contains(cut + ": ", Fails("import", "llamagen", cut, "--out", out1));
        Assert.False(Directory.Exists(out1)); // nothing left behind
    }

    [Fact]
    public void TheGptsTokenCountMustBeTheTokenizers()
    {
        var tok = Path.Combine(_dir, "tok");
        LlamaGenImport.Run(Vq, tok, new LlamaGenImportOptions { ImageSize = 32 });
        var e = Assert.Throws<ArgumentException>(() => LlamaGenImport.Run(GptFile, Path.Combine(_dir, "g"), new LlamaGenImportOptions { TokenizerRun = tok, BlockSize = 256 }));
        Assert.Contains("--block-size 256: the tokenizer", e.Message);
        Assert.Contains("makes 64 tokens per image", e.Message);
        Assert.False(Directory.Exists(Path.Combine(_dir, "g")));
    }
}

/// <summary>Reading LlamaGen's configuration off the shapes, against crt's own models of every preset family.</summary>
public class LlamaGenShapeTests
{
    private static Dictionary<string, int[]> Shapes(Crt.Tensors.Nn.Module m) => m.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Shape);

    [Theory]
    [InlineData("vq-tiny")]
    [InlineData("vq-f16")]
    public void TokenizerShapesGiveBackThePreset(string preset)
    {
        var config = VqConfig.Preset(preset);
        var inferred = LlamaGenShapes.Tokenizer(Shapes(new VqModel(config, new Rng(0))), config.ImageSize, "f");
        Assert.Equal(ConfigResolver.ToJson(config), ConfigResolver.ToJson(inferred));
    }

    /// <summary>LlamaGen's c2i Transformer's state dict shapes (gpt.py), without building the model.</summary>
    private static Dictionary<string, int[]> GptShapes(int layers, int dim, int hidden, int vocab = 16384, int classes = 1000, int qkv = 0)
    {
        var s = new Dictionary<string, int[]>
        {
            ["tok_embeddings.weight"] = new[] { vocab, dim }, ["cls_embedding.embedding_table.weight"] = new[] { classes + 1, dim },
            ["norm.weight"] = new[] { dim }, ["output.weight"] = new[] { vocab, dim },
        };
        for (int i = 0; i < layers; i++)
        {
            s[$"layers.{i}.attention.wqkv.weight"] = new[] { qkv == 0 ? 3 * dim : qkv, dim };
            s[$"layers.{i}.attention.wo.weight"] = new[] { dim, dim };
            s[$"layers.{i}.feed_forward.w1.weight"] = new[] { hidden, dim };
            s[$"layers.{i}.feed_forward.w3.weight"] = new[] { hidden, dim };
            s[$"layers.{i}.feed_forward.w2.weight"] = new[] { dim, hidden };
            s[$"layers.{i}.attention_norm.weight"] = new[] { dim };
            s[$"layers.{i}.ffn_norm.weight"] = new[] { dim };
        }
        return s;
    }

    [Theory]
    [InlineData(12, 768, 2048, 12, "LlamaGen GPT-B")]
    [InlineData(24, 1024, 2816, 16, "LlamaGen GPT-L")]
    [InlineData(36, 1280, 3584, 20, "LlamaGen GPT-XL")]
    [InlineData(48, 1536, 4096, 24, "LlamaGen GPT-XXL")]
    [InlineData(24, 3200, 8704, 32, "LlamaGen GPT-3B")]
    [InlineData(4, 128, 352, 4, "crt gpt-t2")]
    public void GptShapesGiveLlamaGensConfig(int layers, int dim, int hidden, int heads, string from)
    {
        var c = LlamaGenShapes.Gpt(GptShapes(layers, dim, hidden), null, 576, "f", out var headsFrom);
        Assert.Equal((layers, dim, heads, hidden, 16384, 1000, 576), (c.Layers, c.Dim, c.Heads, c.FfnHidden, c.VocabSize, c.NumClasses, c.BlockSize));
        Assert.Equal(from, headsFrom);
    }

    [Fact]
    public void TheGptB110888448ParameterCountComesOut()
    {
        var c = LlamaGenShapes.Gpt(GptShapes(12, 768, 2048), null, 256, "f", out _);
        Assert.Equal(110_888_448, c.ParameterCount());
        var own = Shapes(new Gpt(GptConfig.Preset("gpt-t2") with { VocabSize = 512, NumClasses = 10, BlockSize = 64 }, new Rng(0)));
        var t2 = LlamaGenShapes.Gpt(own, null, 64, "f", out _);
        Assert.Equal(ConfigResolver.ToJson(GptConfig.Preset("gpt-t2") with { VocabSize = 512, NumClasses = 10, BlockSize = 64 }), ConfigResolver.ToJson(t2));
    }

    [Fact]
    public void WhatTheShapesCannotSayIsAskedFor()
    {
        var e = Assert.Throws<ArgumentException>(() => LlamaGenShapes.Gpt(GptShapes(3, 128, 352), null, 256, "f.pt", out _));
        Assert.Contains("give it with --heads N", e.Message);
        Assert.Equal(8, LlamaGenShapes.Gpt(GptShapes(3, 128, 352), 8, 256, "f.pt", out _).Heads);
        Assert.Contains("n_kv_head < n_head", Assert.Throws<InvalidDataException>(() => LlamaGenShapes.Gpt(GptShapes(12, 768, 2048, qkv: 768 + 2 * 256), null, 256, "f", out _)).Message);
        Assert.Contains("ffn_dim_multiplier", Assert.Throws<InvalidDataException>(() => LlamaGenShapes.Gpt(GptShapes(12, 768, 3000), null, 256, "f", out _)).Message);
    }

    [Fact]
    public void SharedPrefixesAndDerivedBuffersAreHandled()
    {
        var storage = new TorchStorage("0", TorchDtype.Float32, 1 << 20, "cpu");
        TorchTensor T(params int[] shape) => new(storage, 0, shape, shape.Select((_, i) => (long)shape.Skip(i + 1).Aggregate(1, (a, b) => a * b)).ToArray());
        var sd = new PickleDict();
        foreach (var (k, s) in GptShapes(1, 64, 192, vocab: 16, classes: 2)) sd.Set("module._orig_mod." + k, T(s));
        sd.Set("module._orig_mod.freqs_cis", T(65, 16, 2));
        sd.Set("module._orig_mod.layers.0.attention.kv_cache.k_cache", T(1, 2, 8, 32));
        var file = new PickleDict();
        file.Set("model", sd);
        file.Set("ema", sd);
        var w = LlamaGenWeights.Select("f.pt", file, null);
        Assert.Equal(LlamaGenKind.Gpt, w.Kind);
        Assert.Equal("model", w.Entry);
        Assert.Contains("tok_embeddings.weight", w.Tensors.Keys);
        Assert.DoesNotContain(w.Tensors.Keys, k => k.Contains("freqs_cis") || k.Contains("kv_cache") || k.StartsWith("module", StringComparison.Ordinal));
        Assert.Contains(w.Notes, n => n.Contains("'module.'"));
        Assert.Contains(w.Notes, n => n.Contains("'_orig_mod.'"));
        Assert.Contains(w.Notes, n => n.Contains("--key ema"));
        Assert.Equal("ema", LlamaGenWeights.Select("f.pt", file, "ema").Entry);

        var t2i = new PickleDict();
        foreach (var kv in sd.Items) t2i.Set(kv.Key, kv.Value);
        t2i.Set("module._orig_mod.cls_embedding.cap_proj.fc1.weight", T(64, 2048));
        Assert.Contains("text-conditional", Assert.Throws<InvalidDataException>(() => LlamaGenWeights.Select("f.pt", t2i, null)).Message);
        var notWeights = new PickleDict();
        notWeights.Set("steps", 5L);
        Assert.Contains("no state dict under 'model', 'module' or 'state_dict'", Assert.Throws<InvalidDataException>(() => LlamaGenWeights.Select("f.pt", notWeights, null)).Message);
    }
}
