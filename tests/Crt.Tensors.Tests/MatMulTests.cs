using Crt.Tensors.IO;
using Xunit;

namespace Crt.Tensors.Tests;

public class MatMulTests
{
    /// <summary>float64 reference of a [..., m, k] · b [..., k, n] where either side may be 2-D (shared).</summary>
    private static double[] RefMatMul(Tensor a, Tensor b, int batch)
    {
        int m = a.Shape[^2], k = a.Shape[^1], n = b.Shape[^1];
        var ad = a.ToArray(); var bd = b.ToArray();
        int sa = a.Rank > 2 ? m * k : 0, sb = b.Rank > 2 ? k * n : 0;
        var y = new double[batch * m * n];
        for (int t = 0; t < batch; t++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += (double)ad[t * sa + i * k + p] * bd[t * sb + p * n + j];
                    y[(t * m + i) * n + j] = s;
                }
        return y;
    }

    private static void AssertNear(double[] want, Tensor got, double rtol, string label)
    {
        var g = got.ToArray();
        Assert.Equal(want.Length, g.Length);
        double scale = Math.Max(1e-6, want.Max(Math.Abs));
        for (int i = 0; i < g.Length; i++)
            Assert.True(Math.Abs(g[i] - want[i]) <= rtol * scale, $"{label}: element {i}: {g[i]} vs {want[i]}");
    }

    public static TheoryData<int[], int[]> Pairs => new()
    {
        { new[] { 1, 1 }, new[] { 1, 1 } },
        { new[] { 3, 7 }, new[] { 7, 5 } },
        { new[] { 17, 33 }, new[] { 33, 3 } },
        { new[] { 33, 17 }, new[] { 17, 65 } },
        { new[] { 70, 40 }, new[] { 40, 50 } },            // packed path
        { new[] { 2, 3, 5, 7 }, new[] { 2, 3, 7, 17 } },   // batched
        { new[] { 3, 33, 17 }, new[] { 3, 17, 40 } },
        { new[] { 2, 5, 33 }, new[] { 33, 9 } },           // b shared across a's batch
        { new[] { 2, 3, 40, 20 }, new[] { 20, 33 } },
        { new[] { 7, 3 }, new[] { 4, 3, 17 } },            // a shared across b's batch
    };

    [Theory]
    [MemberData(nameof(Pairs))]
    public void MatMulMatchesReferenceAndGradCheck(int[] sa, int[] sb)
    {
        var rng = new Rng(11);
        var a = GradCheck.Input(rng, sa);
        var b = GradCheck.Input(rng, sb);
        var y = Ops.MatMul(a, b);
        var batchShape = sa.Length > 2 ? sa[..^2] : sb[..^2];
        Assert.Equal([.. batchShape, sa[^2], sb[^1]], y.Shape);
        AssertNear(RefMatMul(a, b, ShapeUtil.Numel(batchShape)), y, 1e-5, "matmul forward");
        GradCheck.Check(x => Ops.MatMul(x[0], x[1]), new[] { a, b }, label: $"matmul {ShapeUtil.Format(sa)}x{ShapeUtil.Format(sb)}");
    }

    public static TheoryData<int[], int, bool> LinearCases => new()
    {
        { new[] { 5 }, 3, true },
        { new[] { 3, 7 }, 1, true },
        { new[] { 3, 7 }, 17, false },
        { new[] { 2, 3, 17 }, 33, true },
        { new[] { 40, 33 }, 65, false },
        { new[] { 2, 30, 33 }, 40, true },
    };

    [Theory]
    [MemberData(nameof(LinearCases))]
    public void LinearMatchesReferenceAndGradCheck(int[] xs, int outF, bool withBias)
    {
        var rng = new Rng(12);
        int inF = xs[^1];
        var x = GradCheck.Input(rng, xs);
        var w = GradCheck.Input(rng, outF, inF);
        var bias = withBias ? GradCheck.Input(rng, outF) : null;
        var y = Ops.Linear(x, w, bias);
        Assert.Equal([.. xs[..^1], outF], y.Shape);
        int rows = x.Size / inF;
        var xd = x.ToArray(); var wd = w.ToArray(); var bd = bias?.ToArray();
        var want = new double[rows * outF];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outF; o++)
            {
                double s = bd is null ? 0 : bd[o];
                for (int i = 0; i < inF; i++) s += (double)xd[r * inF + i] * wd[o * inF + i];
                want[r * outF + o] = s;
            }
        AssertNear(want, y, 1e-5, "linear forward");
        var inputs = withBias ? new[] { x, w, bias! } : new[] { x, w };
        GradCheck.Check(t => Ops.Linear(t[0], t[1], withBias ? t[2] : null), inputs, label: $"linear {ShapeUtil.Format(xs)} -> {outF}");
    }

    [Fact]
    public void GradientsAccumulateAcrossTwoUses()
    {
        // W used twice: its gradient is the sum of both products' contributions.
        var rng = new Rng(13);
        var x = GradCheck.Input(rng, 4, 9);
        var w = GradCheck.Input(rng, 9, 9);
        GradCheck.Check(t => Ops.MatMul(Ops.MatMul(t[0], t[1]), t[1]), new[] { x, w }, label: "x·W·W");
        GradCheck.Check(t => Ops.Linear(Ops.Linear(t[0], t[1]), t[1]), new[] { x, w }, label: "linear twice");
    }

    [Fact]
    public void ShapeErrorsNameTheOpAndShapes()
    {
        var e = Assert.Throws<ArgumentException>(() => Ops.MatMul(Tensor.Zeros(32, 64), Tensor.Zeros(65, 128)));
        Assert.Equal("matmul: [32,64] x [65,128]: inner sizes differ", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.MatMul(Tensor.Zeros(2, 3, 4), Tensor.Zeros(5, 4, 6)));
        Assert.Equal("matmul: [2,3,4] x [5,4,6]: batch dims differ", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.MatMul(Tensor.Zeros(4), Tensor.Zeros(4, 6)));
        Assert.Equal("matmul: [4] x [4,6]: both operands need at least 2 dimensions", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.Linear(Tensor.Zeros(4, 7, 33), Tensor.Zeros(17, 32)));
        Assert.Equal("linear: x [4,7,33] x weight [17,32]: in features differ (x's last dim must be 32)", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.Linear(Tensor.Zeros(4, 33), Tensor.Zeros(17, 33), Tensor.Zeros(16)));
        Assert.Equal("linear: bias [16] does not match weight [17,33] (expected [17])", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.Linear(Tensor.Zeros(4, 33), Tensor.Zeros(17, 33, 1)));
        Assert.Equal("linear: weight [17,33,1] must be 2-D [out, in]", e.Message);
    }

    [Fact]
    public void EmptyInnerDimensionGivesZerosAndZeroGradients()
    {
        var a = Tensor.Zeros(3, 0); a.RequiresGrad = true;
        var b = Tensor.Zeros(0, 4); b.RequiresGrad = true;
        var y = Ops.MatMul(a, b);
        Assert.Equal(new[] { 3, 4 }, y.Shape);
        Assert.All(y.ToArray(), v => Assert.Equal(0f, v));
        var lin = Ops.Linear(Tensor.Full(1f, 2, 0), Tensor.Zeros(5, 0), Tensor.Full(2f, 5));
        Assert.All(lin.ToArray(), v => Assert.Equal(2f, v));
    }

    /// <summary>
    /// PyTorch parity (tools/parity/make_linear.py): max |torch − crt| ≤ 1e-5 · max |torch| per tensor,
    /// for outputs and every gradient.
    /// </summary>
    [Fact]
    public void MatchesPyTorchLinearAndMatMul()
    {
        var f = Parity.Load("linear");
        var x = f["x"]; var w = f["weight"]; var b = f["bias"];
        foreach (var t in new[] { x, w, b }) t.RequiresGrad = true;
        var y = Ops.Linear(x, w, b);
        y.Backward(f["grad_output"]);
        AssertParity(f["output"], y, "linear output");
        AssertParity(f["dx"], x.Grad!, "linear dx");
        AssertParity(f["dweight"], w.Grad!, "linear dweight");
        AssertParity(f["dbias"], b.Grad!, "linear dbias");

        foreach (var tag in new[] { "mm_batched", "mm_shared" })
        {
            var a = f[tag + "_a"]; var bb = f[tag + "_b"];
            a.RequiresGrad = bb.RequiresGrad = true;
            var c = Ops.MatMul(a, bb);
            c.Backward(f[tag + "_grad_output"]);
            AssertParity(f[tag + "_out"], c, tag + " output");
            AssertParity(f[tag + "_da"], a.Grad!, tag + " da");
            AssertParity(f[tag + "_db"], bb.Grad!, tag + " db");
        }
    }

    private static void AssertParity(Tensor expected, Tensor actual, string label, double rtol = 1e-5) =>
        Parity.AssertClose(expected, actual, rtol, label);
}
