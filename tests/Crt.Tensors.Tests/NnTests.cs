using Crt.Tensors;
using Crt.Tensors.IO;
using Crt.Tensors.Nn;
using Xunit;

namespace Crt.Tensors.Tests;

public sealed class NnTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-nn-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // The same tree as tests/Crt.Tensors.Tests/data/make_nn_data.py builds in PyTorch.
    private sealed class Attention : Module
    {
        public Linear Wqkv, Wo;
        public Attention(Rng rng)
        {
            Wqkv = RegisterModule("wqkv", new Linear(8, 24, bias: false, rng: rng));
            Wo = RegisterModule("wo", new Linear(8, 8, bias: false, rng: rng));
        }
    }

    private sealed class Block : Module
    {
        public Block(Rng rng)
        {
            RegisterModule("attention", new Attention(rng));
            RegisterModule("attention_norm", new RMSNorm(8));
            RegisterModule("ffn_norm", new RMSNorm(8));
            RegisterModule("drop", new Dropout(0.1f));
        }
    }

    private sealed class Encoder : Module
    {
        public BatchNorm2d Bn;
        public Encoder(Rng rng)
        {
            RegisterModule("conv_in", new Conv2d(3, 4, 3, padding: 1, rng: rng));
            RegisterModule("norm", new GroupNorm(2, 4));
            Bn = RegisterModule("bn", new BatchNorm2d(4));
            RegisterModule("ln", new LayerNorm(4));
        }
    }

    private sealed class Tiny : Module
    {
        public Encoder Encoder;
        public ModuleList<Block> Layers;
        public Sequential Head;
        public Tiny(ulong seed)
        {
            var rng = new Rng(seed);
            Encoder = RegisterModule("encoder", new Encoder(rng));
            RegisterModule("tok_embeddings", new Embedding(10, 8, rng));
            Layers = RegisterModule("layers", new ModuleList<Block>(new[] { new Block(rng), new Block(rng) }));
            Head = RegisterModule("head", new Sequential(new Linear(8, 16, rng: rng), Activation.Silu(), new Linear(16, 10, rng: rng)));
        }
    }

    private static readonly string[] TinyNames =
    {
        "encoder.conv_in.weight", "encoder.conv_in.bias", "encoder.norm.weight", "encoder.norm.bias",
        "encoder.bn.weight", "encoder.bn.bias", "encoder.bn.running_mean", "encoder.bn.running_var", "encoder.bn.num_batches_tracked",
        "encoder.ln.weight", "encoder.ln.bias", "tok_embeddings.weight",
        "layers.0.attention.wqkv.weight", "layers.0.attention.wo.weight", "layers.0.attention_norm.weight", "layers.0.ffn_norm.weight",
        "layers.1.attention.wqkv.weight", "layers.1.attention.wo.weight", "layers.1.attention_norm.weight", "layers.1.ffn_norm.weight",
        "head.0.weight", "head.0.bias", "head.2.weight", "head.2.bias",
    };

    [Fact]
    public void NamesFollowPyTorch()
    {
        var m = new Tiny(1);
        // The state dict's keys and order are exactly PyTorch's for the same tree (printed by make_nn_data.py).
        Assert.Equal(TinyNames, m.StateDict().Keys);
        var buffers = new[] { "encoder.bn.running_mean", "encoder.bn.running_var", "encoder.bn.num_batches_tracked" };
        Assert.Equal(TinyNames.Except(buffers), m.NamedParameters().Select(p => p.Name));
        Assert.Equal(buffers, m.NamedBuffers().Select(b => b.Name));
        Assert.All(m.Parameters(), p => Assert.True(p.RequiresGrad && p.IsLeaf));
        Assert.All(m.NamedBuffers(), b => Assert.False(b.Buffer.RequiresGrad));
        long expected = 4 * 3 * 9 + 4 + 4 + 4 + 4 + 4 + 4 + 4 + 80 + 2 * (24 * 8 + 64 + 8 + 8) + 16 * 8 + 16 + 160 + 10;
        Assert.Equal(expected, m.ParameterCount);
        Assert.Equal(new[] { "encoder", "tok_embeddings", "layers", "head" }, m.NamedChildren().Select(c => c.Name));
        Assert.Contains(m.NamedModules(), x => x.Name == "layers.1.attention.wqkv" && x.Module is Linear);
        Assert.Equal(2, m.Layers.Count);
    }

    [Fact]
    public void LoadsAPyTorchStateDictStrictly()
    {
        var path = SafeTensorsTests.DataFile("tiny_torch_state.safetensors");
        var m = new Tiny(1);
        var result = m.Load(path);
        Assert.Empty(result.MissingKeys);
        Assert.Empty(result.UnexpectedKeys);
        var raw = SafeTensors.Load(path);
        foreach (var (name, t) in m.StateDict()) Assert.Equal(raw[name].ToArray(), t.ToArray());
        // Values the Python script set by hand, including the int64 counter.
        Assert.Equal(new[] { 0f, 1f, 2f, 3f }, m.Encoder.Bn.RunningMean.ToArray());
        Assert.Equal(new[] { 2f, 2f, 2f, 2f }, m.Encoder.Bn.RunningVar.ToArray());
        Assert.Equal(5f, m.Encoder.Bn.NumBatchesTracked.Item());
        Assert.All(m.StateDict()["layers.1.ffn_norm.weight"].ToArray(), v => Assert.Equal(0.25f, v));
    }

    [Fact]
    public void StateDictRoundTripsThroughSafetensors()
    {
        var a = new Tiny(1);
        a.Encoder.Bn.RunningMean.Span.Fill(0.5f);
        a.Encoder.Bn.NumBatchesTracked.Span[0] = 3;
        var path = Path.Combine(_dir, "tiny.safetensors");
        a.Save(path, new Dictionary<string, string> { ["step"] = "7" });
        var b = new Tiny(2);
        Assert.NotEqual(a.StateDict()["head.0.weight"].ToArray(), b.StateDict()["head.0.weight"].ToArray());
        var weightBefore = b.StateDict()["head.0.weight"];
        b.Load(path);
        foreach (var (name, t) in a.StateDict()) Assert.Equal(t.ToArray(), b.StateDict()[name].ToArray());
        // Loading copies into the live tensors; module references stay valid.
        Assert.Same(weightBefore, b.StateDict()["head.0.weight"]);
        Assert.Equal("7", SafeTensors.LoadMetadata(path)["step"]);
    }

    [Fact]
    public void StrictLoadNamesMissingUnexpectedAndMismatchedKeys()
    {
        var m = new Tiny(1);
        var state = new Tiny(2).StateDict();
        state.Remove("layers.1.attention.wo.weight");
        state.Remove("encoder.bn.running_var");
        state["layers.2.attention.wo.weight"] = Tensor.Zeros(8, 8);
        var before = m.StateDict()["head.2.bias"].ToArray();

        var e = Assert.Throws<InvalidOperationException>(() => m.LoadStateDict(state));
        Assert.Contains("missing keys (2): encoder.bn.running_var, layers.1.attention.wo.weight", e.Message);
        Assert.Contains("unexpected keys (1): layers.2.attention.wo.weight", e.Message);
        Assert.Equal(before, m.StateDict()["head.2.bias"].ToArray()); // nothing copied on failure

        var r = m.LoadStateDict(state, strict: false);
        Assert.Equal(new[] { "encoder.bn.running_var", "layers.1.attention.wo.weight" }, r.MissingKeys.Order());
        Assert.Equal(new[] { "layers.2.attention.wo.weight" }, r.UnexpectedKeys);
        Assert.Equal(state["head.2.bias"].ToArray(), m.StateDict()["head.2.bias"].ToArray());

        // Shape mismatches fail even when not strict, naming the key and both shapes.
        var full = new Tiny(2).StateDict();
        full["head.0.weight"] = Tensor.Zeros(16, 9);
        var e2 = Assert.Throws<InvalidOperationException>(() => m.LoadStateDict(full, strict: false));
        Assert.Contains("'head.0.weight': checkpoint has [16,9], model has [16,8]", e2.Message);

        // Through a file the error names the file.
        var path = Path.Combine(_dir, "partial.safetensors");
        SafeTensors.Save(path, state);
        var e3 = Assert.Throws<InvalidDataException>(() => m.Load(path));
        Assert.StartsWith(path + ": ", e3.Message);
        Assert.Contains("layers.1.attention.wo.weight", e3.Message);
    }

    [Fact]
    public void TrainEvalAndZeroGradReachEveryModule()
    {
        var m = new Tiny(1);
        Assert.All(m.NamedModules(), x => Assert.True(x.Module.Training));
        m.Eval();
        Assert.All(m.NamedModules(), x => Assert.False(x.Module.Training));
        m.Train();
        Assert.All(m.NamedModules(), x => Assert.True(x.Module.Training));
        foreach (var p in m.Parameters()) p.Grad = Tensor.Ones(p.Shape);
        m.ZeroGrad();
        Assert.All(m.Parameters(), p => Assert.Null(p.Grad));
    }

    private sealed class Tied : Module
    {
        public Tied()
        {
            var emb = RegisterModule("emb", new Embedding(5, 3, new Rng(1)));
            RegisterModule("out", new TiedHead(emb.Weight));
        }
    }

    private sealed class TiedHead : Module
    {
        public TiedHead(Tensor w) => RegisterParameter("weight", w);
    }

    private sealed class Bad : Module
    {
        public void Reg(string name, Tensor t) => RegisterParameter(name, t);
        public void RegBuf(string name, Tensor t, bool persistent) => RegisterBuffer(name, t, persistent);
    }

    [Fact]
    public void SharedParametersAreListedOnceAndBadRegistrationsFail()
    {
        var t = new Tied();
        Assert.Equal(new[] { "emb.weight" }, t.NamedParameters().Select(p => p.Name));
        Assert.Equal(15, t.ParameterCount);
        Assert.Equal(new[] { "emb.weight", "out.weight" }, t.StateDict().Keys);

        var b = new Bad();
        b.Reg("w", Tensor.Zeros(2));
        Assert.Contains("already registered", Assert.Throws<ArgumentException>(() => b.Reg("w", Tensor.Zeros(2))).Message);
        Assert.Contains("not a valid name", Assert.Throws<ArgumentException>(() => b.Reg("a.b", Tensor.Zeros(2))).Message);
        using (TensorScope.Begin())
            Assert.Contains("TensorScope", Assert.Throws<ArgumentException>(() => b.Reg("pooled", Tensor.Zeros(2))).Message);
        b.RegBuf("cache", Tensor.Zeros(3), persistent: false);
        Assert.Equal(new[] { "w" }, b.StateDict().Keys);
        Assert.Equal(new[] { "cache" }, b.NamedBuffers().Select(x => x.Name));
    }

    [Fact]
    public void ModulesCreatedInsideAScopeOutliveIt()
    {
        Linear l;
        using (TensorScope.Begin()) l = new Linear(4, 3, rng: new Rng(1));
        Assert.Equal(12, l.Weight.ToArray().Length); // would throw if the storage had gone back to the pool
    }

    [Fact]
    public void DropoutIsIdentityInEval()
    {
        var d = new Dropout(0.5f);
        d.Eval();
        var x = Tensor.Ones(4, 4);
        Assert.Same(x, d.Forward(x));
    }

    [Fact]
    public void SequentialRejectsNonLayers()
    {
        var e = Assert.Throws<ArgumentException>(() => new Sequential(new Linear(2, 2), new Embedding(3, 2)));
        Assert.Contains("Embedding", e.Message);
    }

    // ---- initialisers ----------------------------------------------------------------------------

    private static (double Mean, double Std, double Min, double Max) Stats(Tensor t)
    {
        var a = t.ToArray().Select(v => (double)v).ToArray();
        double mean = a.Average();
        return (mean, Math.Sqrt(a.Select(v => (v - mean) * (v - mean)).Average()), a.Min(), a.Max());
    }

    [Fact]
    public void LinearAndConvDefaultInitMatchPyTorchBounds()
    {
        // kaiming_uniform(a=√5): bound = √(6/((1+5)·fan_in)) = 1/√fan_in; bias U(±1/√fan_in).
        var l = new Linear(256, 512, rng: new Rng(4));
        var (mean, std, min, max) = Stats(l.Weight);
        double bound = 1 / Math.Sqrt(256);
        Assert.InRange(min, -bound, -0.99 * bound);
        Assert.InRange(max, 0.99 * bound, bound);
        Assert.InRange(std, 0.97 * bound / Math.Sqrt(3), 1.03 * bound / Math.Sqrt(3));
        Assert.InRange(mean, -0.01 * bound, 0.01 * bound);
        var (_, _, bmin, bmax) = Stats(l.Bias!);
        Assert.InRange(bmin, -bound, -0.9 * bound);
        Assert.InRange(bmax, 0.9 * bound, bound);

        var c = new Conv2d(16, 32, 3, rng: new Rng(5));
        double cb = 1 / Math.Sqrt(16 * 9);
        var cs = Stats(c.Weight);
        Assert.InRange(cs.Min, -cb, -0.98 * cb);
        Assert.InRange(cs.Max, 0.98 * cb, cb);
        Assert.Equal(new[] { 32, 16, 3, 3 }, c.Weight.Shape);

        // The same seed gives the same weights.
        Assert.Equal(new Linear(7, 3, rng: new Rng(9)).Weight.ToArray(), new Linear(7, 3, rng: new Rng(9)).Weight.ToArray());
    }

    [Fact]
    public void InitialisersHaveTheirDocumentedSpread()
    {
        var rng = new Rng(11);
        var t = Tensor.Zeros(200, 100);
        Assert.Equal((100, 200), Init.Fans(t.Shape));
        Assert.Equal((3 * 25, 8 * 25), Init.Fans(new[] { 8, 3, 5, 5 }));
        Assert.Throws<ArgumentException>(() => Init.Fans(new[] { 5 }));

        Init.KaimingNormal(t, rng, nonlinearity: "relu");
        Assert.InRange(Stats(t).Std, 0.98 * Math.Sqrt(2.0 / 100), 1.02 * Math.Sqrt(2.0 / 100));
        Init.KaimingUniform(t, rng, mode: Init.FanMode.FanOut, nonlinearity: "relu");
        Assert.InRange(Stats(t).Max, 0, Math.Sqrt(3) * Math.Sqrt(2.0 / 200));
        Init.XavierUniform(t, rng);
        double xb = Math.Sqrt(6.0 / 300);
        Assert.InRange(Stats(t).Max, 0.99 * xb, xb);
        Init.XavierNormal(t, rng, gain: 2);
        Assert.InRange(Stats(t).Std, 0.98 * 2 * Math.Sqrt(2.0 / 300), 1.02 * 2 * Math.Sqrt(2.0 / 300));
        Init.Normal(t, rng, 1, 0.02);
        var ns = Stats(t);
        Assert.InRange(ns.Mean, 0.999, 1.001);
        Assert.InRange(ns.Std, 0.0196, 0.0204);
        Init.Ones(t);
        Assert.All(t.ToArray(), v => Assert.Equal(1f, v));
        Init.Zeros(t);
        Assert.All(t.ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(5.0 / 3, Init.Gain("tanh"), 12);
        Assert.Equal(Math.Sqrt(2 / (1 + 0.04)), Init.Gain("leaky_relu", 0.2), 12);
    }

    [Fact]
    public void TruncNormalStaysInBoundsWithTheTruncatedSpread()
    {
        var rng = new Rng(12);
        var t = Tensor.Zeros(40000);
        Init.TruncNormal(t, rng, mean: 0, std: 1, a: -2, b: 2);
        var s = Stats(t);
        Assert.InRange(s.Min, -2, -1.99);
        Assert.InRange(s.Max, 1.99, 2);
        // Var of N(0,1) cut at ±2: 1 − 2·2·φ(2)/(Φ(2) − Φ(−2)) = 0.77374
        Assert.InRange(s.Std, Math.Sqrt(0.77374) - 0.01, Math.Sqrt(0.77374) + 0.01);

        // A one-sided cut far in the tail still works (no rejection loop).
        Init.TruncNormal(t, rng, mean: 0, std: 1, a: 4, b: 10);
        Assert.InRange(Stats(t).Min, 4, 4.01);
        Assert.InRange(Stats(t).Mean, 4.1, 4.35); // E = φ(4)/(1−Φ(4)) ≈ 4.2256

        // LlamaGen-style small std: bounds far outside, so it is a plain normal.
        Init.TruncNormal(t, rng, std: 0.02);
        Assert.InRange(Stats(t).Std, 0.0196, 0.0204);
    }

    [Fact]
    public void NormalCdfAndQuantileAreAccurate()
    {
        Assert.Equal(0.15729920705028513, Init.Erfc(1), 13);
        Assert.Equal(1.5374597944280349, Init.Erfc(5) * 1e12, 12);
        Assert.Equal(1.842700792949715, Init.Erfc(-1), 13);
        Assert.Equal(0.975, Init.NormalCdf(1.959963984540054), 14);
        Assert.Equal(1.959963984540054, Init.NormalQuantile(0.975), 10);
        Assert.Equal(-3.090232306167813, Init.NormalQuantile(0.001), 10);
        Assert.Equal(0, Init.NormalQuantile(0.5), 12);
    }

    // ---- forward passes (need the ops merged from main) ------------------------------------------

    [Fact]
    public void LinearForwardIsXWtPlusB()
    {
        var rng = new Rng(21);
        var l = new Linear(5, 3, rng: rng);
        var x = rng.Normal(new[] { 4, 5 });
        var y = l.Forward(x);
        Assert.Equal(new[] { 4, 3 }, y.Shape);
        var w = l.Weight.ToArray(); var b = l.Bias!.ToArray(); var xa = x.ToArray();
        for (int i = 0; i < 4; i++)
            for (int o = 0; o < 3; o++)
            {
                double s = b[o];
                for (int k = 0; k < 5; k++) s += (double)xa[i * 5 + k] * w[o * 5 + k];
                Assert.Equal(s, y[i, o], 4);
            }
    }

    [Fact]
    public void NormModulesUseTheirParameters()
    {
        var rng = new Rng(22);
        var x = rng.Normal(new[] { 2, 6 });
        var rms = new RMSNorm(6);
        rms.Weight.Span.Fill(2f);
        var y = rms.Forward(x).ToArray();
        var xa = x.ToArray();
        for (int r = 0; r < 2; r++)
        {
            double ms = 0;
            for (int i = 0; i < 6; i++) ms += xa[r * 6 + i] * (double)xa[r * 6 + i];
            double inv = 1 / Math.Sqrt(ms / 6 + 1e-5);
            for (int i = 0; i < 6; i++) Assert.Equal(2 * xa[r * 6 + i] * inv, y[r * 6 + i], 4);
        }
        var ln = new LayerNorm(6);
        ln.Bias!.Span.Fill(1f);
        var z = ln.Forward(x).ToArray();
        Assert.Equal(6.0, z.Take(6).Sum(), 4); // mean 0 before the bias of 1
        Assert.Throws<ArgumentException>(() => ln.Forward(Tensor.Zeros(2, 5)));
    }

    [Fact]
    public void ConvModuleHonoursStrideAndAsymmetricPadding()
    {
        var rng = new Rng(23);
        // The VQGAN downsampler: pad right/bottom by one, 3x3 stride 2.
        var conv = new Conv2d(2, 3, 3, 3, stride: 2, new Padding2d(0, 1, 0, 1), rng: rng);
        var x = rng.Normal(new[] { 1, 2, 6, 6 });
        var y = conv.Forward(x);
        Assert.Equal(new[] { 1, 3, 3, 3 }, y.Shape);
        // Output (o, 2, 2) reads rows/cols 4..6, where 6 is the zero padding.
        double s = conv.Bias!.Span[1];
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                    s += (double)x[0, c, 4 + i, 4 + j] * conv.Weight[1, c, i, j];
        Assert.Equal(s, y[0, 1, 2, 2], 4);
    }

    [Fact]
    public void BatchNormCountsBatchesAndUpdatesRunningStatsOnlyInTraining()
    {
        var bn = new BatchNorm2d(2);
        var x = new Rng(24).Normal(new[] { 4, 2, 3, 3 }, 1f, 2f);
        bn.Forward(x);
        Assert.Equal(1f, bn.NumBatchesTracked.Item());
        var mean = bn.RunningMean.ToArray();
        Assert.All(mean, m => Assert.NotEqual(0f, m));
        bn.Eval();
        bn.Forward(x);
        Assert.Equal(1f, bn.NumBatchesTracked.Item());
        Assert.Equal(mean, bn.RunningMean.ToArray());
    }

    [Fact]
    public void EmbeddingGroupNormAndDropoutModulesForward()
    {
        var rng = new Rng(25);
        var emb = new Embedding(7, 4, rng);
        var e = emb.Forward(new[] { 6, 0, 6, 2, 1, 3 }, 2, 3);
        Assert.Equal(new[] { 2, 3, 4 }, e.Shape);
        Assert.Equal(emb.Weight[6, 1], e[0, 2, 1]); // ids[0, 2] = 6
        Assert.Equal(emb.Weight[2, 1], e[1, 0, 1]); // ids[1, 0] = 2

        var gn = new GroupNorm(2, 4, eps: 1e-6f);
        var x = rng.Normal(new[] { 2, 4, 3, 3 });
        var y = gn.Forward(x).ToArray();
        Assert.Equal(0.0, y.Take(18).Sum() / 18, 4); // first group of the first sample has mean 0
        var z = gn.Forward(x, swish: true).ToArray();
        for (int i = 0; i < 10; i++) Assert.Equal(y[i] / (1 + Math.Exp(-y[i])), z[i], 4);

        var d = new Dropout(0.5f, new Rng(26));
        var o = d.Forward(Tensor.Ones(1000)).ToArray();
        Assert.All(o, v => Assert.True(v == 0f || v == 2f));
        Assert.InRange(o.Count(v => v == 0f), 400, 600);
    }
}
