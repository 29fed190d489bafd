using Crt.Tensors;
using Crt.Tensors.IO;
using Xunit;
using Xunit.Abstractions;

namespace Crt.Tensors.Tests;

/// <summary>
/// crt against PyTorch (float32) on the fixtures written by tools/parity/make_norms.py: outputs, input and
/// parameter gradients for a fixed upstream gradient, and BatchNorm's updated running statistics.
/// Criterion: max |crt − torch| / max |torch| ≤ 1e-5 per tensor.
/// </summary>
public sealed class NormalizationParityTests(ITestOutputHelper log)
{
    private const double Tol = 1e-5;
    private static readonly Lazy<Dictionary<string, Tensor>> Data = new(() => SafeTensors.Load(SafeTensorsTests.DataFile("parity/norms.safetensors")));

    private static Tensor Get(string name) => Data.Value[name];

    private static Tensor Leaf(string name)
    {
        var t = Get(name).Clone();
        t.RequiresGrad = true;
        return t;
    }

    private void Compare(string name, Tensor? actual)
    {
        var expected = Get(name);
        Assert.NotNull(actual);
        Assert.Equal(expected.Shape, actual!.Shape);
        double maxErr = 0, maxVal = 0;
        var e = expected.ReadOnlySpan; var a = actual.ReadOnlySpan;
        for (int i = 0; i < e.Length; i++)
        {
            maxErr = Math.Max(maxErr, Math.Abs((double)a[i] - e[i]));
            maxVal = Math.Max(maxVal, Math.Abs((double)e[i]));
        }
        double rel = maxErr / Math.Max(maxVal, 1e-30);
        log.WriteLine($"{name,-30} max abs err {maxErr:E2}  max |torch| {maxVal:G4}  ratio {rel:E2}");
        Assert.True(rel <= Tol, $"{name}: max abs error {maxErr:G4} over max |torch| {maxVal:G4} = {rel:G3} > {Tol}");
    }

    private static void Backward(Tensor y, string prefix) => y.Backward(Get(prefix + ".g"));

    [Theory]
    [InlineData("gn", 32, 1e-6f, false, "gn")]
    [InlineData("gn_silu", 32, 1e-6f, true, "gn")]
    [InlineData("gn_odd", 1, 1e-5f, true, "gn_odd")]
    public void GroupNormMatchesTorch(string prefix, int groups, float eps, bool swish, string inputs)
    {
        var x = Leaf(inputs + ".x"); var w = Leaf(inputs + ".w"); var b = Leaf(inputs + ".b");
        var y = Ops.GroupNorm(x, groups, w, b, eps, swish);
        Compare(prefix + ".y", y);
        Backward(y, prefix);
        Compare(prefix + ".dx", x.Grad);
        Compare(prefix + ".dw", w.Grad);
        Compare(prefix + ".db", b.Grad);
    }

    [Fact]
    public void BatchNormTrainingStepMatchesTorch()
    {
        var x = Leaf("bn_train.x"); var w = Leaf("bn_train.w"); var b = Leaf("bn_train.b");
        var rm = Get("bn.running_mean").Clone(); var rv = Get("bn.running_var").Clone();
        var y = Ops.BatchNorm2d(x, w, b, rm, rv, training: true, momentum: 0.1f, eps: 1e-5f);
        Compare("bn_train.running_mean_after", rm);
        Compare("bn_train.running_var_after", rv);
        Compare("bn_train.y", y);
        Backward(y, "bn_train");
        Compare("bn_train.dx", x.Grad);
        Compare("bn_train.dw", w.Grad);
        Compare("bn_train.db", b.Grad);
    }

    [Fact]
    public void BatchNormEvalMatchesTorch()
    {
        var x = Leaf("bn_train.x"); var w = Leaf("bn_train.w"); var b = Leaf("bn_train.b");
        var rm = Get("bn.running_mean").Clone(); var rv = Get("bn.running_var").Clone();
        var y = Ops.BatchNorm2d(x, w, b, rm, rv, training: false, momentum: 0.1f, eps: 1e-5f);
        Assert.Equal(Get("bn.running_mean").ToArray(), rm.ToArray());
        Compare("bn_eval.y", y);
        Backward(y, "bn_eval");
        Compare("bn_eval.dx", x.Grad);
        Compare("bn_eval.dw", w.Grad);
        Compare("bn_eval.db", b.Grad);
    }

    [Fact]
    public void LayerNormMatchesTorch()
    {
        var x = Leaf("ln.x"); var w = Leaf("ln.w"); var b = Leaf("ln.b");
        var y = Ops.LayerNorm(x, w, b, 1e-5f);
        Compare("ln.y", y);
        Backward(y, "ln");
        Compare("ln.dx", x.Grad);
        Compare("ln.dw", w.Grad);
        Compare("ln.db", b.Grad);
    }

    [Fact]
    public void RmsNormMatchesLlamaGen()
    {
        var x = Leaf("rms.x"); var w = Leaf("rms.w");
        var y = Ops.RmsNorm(x, w, 1e-5f);
        Compare("rms.y", y);
        Backward(y, "rms");
        Compare("rms.dx", x.Grad);
        Compare("rms.dw", w.Grad);
    }

    [Theory]
    [InlineData("silu")]
    [InlineData("sigmoid")]
    [InlineData("tanh")]
    [InlineData("relu")]
    [InlineData("leaky_relu")]
    [InlineData("gelu")]
    [InlineData("gelu_tanh")]
    public void ActivationsMatchTorch(string name)
    {
        var x = Leaf("act.x");
        var y = name switch
        {
            "silu" => Ops.Silu(x),
            "sigmoid" => Ops.Sigmoid(x),
            "tanh" => Ops.Tanh(x),
            "relu" => Ops.Relu(x),
            "leaky_relu" => Ops.LeakyRelu(x, 0.2f),
            "gelu" => Ops.Gelu(x),
            _ => Ops.Gelu(x, tanhApproximation: true),
        };
        Compare($"act_{name}.y", y);
        Backward(y, $"act_{name}");
        Compare($"act_{name}.dx", x.Grad);
    }
}
