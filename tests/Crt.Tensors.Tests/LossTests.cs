using Crt.Tensors;
using Crt.Tensors.IO;
using Xunit;

namespace Crt.Tensors.Tests;

public sealed class LossTests
{
    // ---- softmax / log-softmax ------------------------------------------------------------------------

    /// <summary>float64 softmax (or log-softmax) of x along axis.</summary>
    private static double[] RefSoftmax(Tensor x, int axis, bool log)
    {
        int a = axis < 0 ? axis + x.Rank : axis;
        int outer = 1, inner = 1, n = x.Shape[a];
        for (int i = 0; i < a; i++) outer *= x.Shape[i];
        for (int i = a + 1; i < x.Rank; i++) inner *= x.Shape[i];
        var xs = x.ToArray();
        var y = new double[xs.Length];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double m = double.NegativeInfinity, s = 0;
                for (int j = 0; j < n; j++) m = Math.Max(m, xs[(o * n + j) * inner + i]);
                for (int j = 0; j < n; j++) s += Math.Exp(xs[(o * n + j) * inner + i] - m);
                for (int j = 0; j < n; j++)
                {
                    double v = xs[(o * n + j) * inner + i] - m;
                    y[(o * n + j) * inner + i] = log ? v - Math.Log(s) : Math.Exp(v) / s;
                }
            }
        return y;
    }

    [Theory]
    [InlineData(0, false)] [InlineData(1, false)] [InlineData(-1, false)] [InlineData(2, false)]
    [InlineData(0, true)] [InlineData(1, true)] [InlineData(-1, true)]
    public void SoftmaxAlongAnyAxisMatchesReferenceAndGradChecks(int axis, bool log)
    {
        foreach (var shape in new[] { new[] { 3, 5, 7 }, new[] { 1, 17, 33 }, new[] { 2, 1, 3 } })
        {
            var rng = new Rng((ulong)(axis + 10 + shape[1]));
            var x = GradCheck.Input(rng, shape);
            var y = log ? Ops.LogSoftmax(x, axis) : Ops.Softmax(x, axis);
            var r = RefSoftmax(x, axis, log);
            var ys = y.ToArray();
            for (int i = 0; i < r.Length; i++) Assert.True(Math.Abs(r[i] - ys[i]) <= 1e-6 * Math.Max(1, Math.Abs(r[i])), $"element {i}: {ys[i]} vs {r[i]}");
            GradCheck.Check(a => log ? Ops.LogSoftmax(a[0], axis) : Ops.Softmax(a[0], axis), new[] { x }, label: $"{(log ? "log_softmax" : "softmax")} axis {axis} {ShapeUtil.Format(shape)}");
        }
    }

    [Fact]
    public void LargeInputsSplitAcrossCoresAndStillMatch()
    {
        // big enough for Par to split the rows (and, for axis 0, the strided path) across threads
        var rng = new Rng(77);
        var x = rng.Normal(new[] { 96, 700 });
        foreach (int axis in new[] { -1, 0 })
        {
            var r = RefSoftmax(x, axis, log: true);
            var y = Ops.LogSoftmax(x, axis).ToArray();
            for (int i = 0; i < r.Length; i++) Assert.True(Math.Abs(r[i] - y[i]) <= 1e-5 * Math.Max(1, Math.Abs(r[i])), $"axis {axis} element {i}: {y[i]} vs {r[i]}");
        }
        var targets = Enumerable.Range(0, 96).Select(i => (i * 37) % 700).ToArray();
        var xs = x.ToArray();
        var pp = Ops.CrossEntropyPerPosition(x, targets).ToArray();
        for (int i = 0; i < 96; i++) Near(RefRowCe(xs, i, 700, targets[i]), pp[i], 1e-5);
    }

    [Fact]
    public void SoftmaxIsStableForHugeLogits()
    {
        var x = Tensor.FromArray(new[] { 1000f, 1001f, -1000f, 88f, 89f, 90f }, 2, 3);
        var y = Ops.Softmax(x).ToArray();
        Near(1 / (1 + Math.E), y[0], 1e-6);
        Near(Math.E / (1 + Math.E), y[1], 1e-6);
        Assert.Equal(0f, y[2]);
        var ls = Ops.LogSoftmax(x, 0).ToArray(); // column 0: 1000 vs 88
        Near(0, ls[0], 1e-5);
        Near(-912, ls[3], 1e-3);
    }

    private static void Near(double expected, double actual, double tol)
        => Assert.True(Math.Abs(expected - actual) <= tol, $"expected {expected:G9}, got {actual:G9} (tolerance {tol:G2})");

    // ---- cross-entropy -----------------------------------------------------------------------------------

    private static double RefRowCe(float[] logits, int row, int c, int target)
    {
        double m = double.NegativeInfinity, s = 0;
        for (int j = 0; j < c; j++) m = Math.Max(m, logits[row * c + j]);
        for (int j = 0; j < c; j++) s += Math.Exp(logits[row * c + j] - m);
        return m + Math.Log(s) - logits[row * c + target];
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 3)]
    [InlineData(17, 33)]
    [InlineData(5, 300)]
    public void CrossEntropyWithIgnoreIndexMatchesReference(int n, int c)
    {
        var rng = new Rng((ulong)(n * 7 + c));
        var logits = GradCheck.Input(rng, n, c);
        var targets = Enumerable.Range(0, n).Select(i => i % 3 == 2 ? -1 : rng.NextInt(c)).ToArray();
        if (targets.All(t => t == -1)) targets[0] = 0;
        var loss = Ops.CrossEntropy(logits, targets, ignoreIndex: -1);
        Assert.Empty(loss.Shape);
        var ls = logits.ToArray();
        double sum = 0; int count = 0;
        for (int i = 0; i < n; i++) if (targets[i] != -1) { sum += RefRowCe(ls, i, c, targets[i]); count++; }
        Near(sum / count, loss.Item(), 1e-5);

        // analytic gradient (softmax − onehot)/count, zero on ignored rows
        loss.Backward();
        var g = logits.Grad!.ToArray();
        for (int i = 0; i < n; i++)
        {
            double m = ls.Skip(i * c).Take(c).Max(), s = ls.Skip(i * c).Take(c).Sum(v => Math.Exp(v - m));
            for (int j = 0; j < c; j++)
            {
                double e = targets[i] == -1 ? 0 : (Math.Exp(ls[i * c + j] - m) / s - (j == targets[i] ? 1 : 0)) / count;
                Assert.True(Math.Abs(e - g[i * c + j]) <= 1e-6, $"dlogits[{i},{j}] {g[i * c + j]} vs {e}");
            }
        }
        GradCheck.Check(a => Ops.CrossEntropy(a[0], targets, -1), new[] { logits }, label: $"ce {n}x{c}");
    }

    [Fact]
    public void CrossEntropyDefaultIgnoreIndexAndAllIgnored()
    {
        var logits = Tensor.FromArray(new[] { 1f, 2f, 3f, 0f, 0f, 0f }, 2, 3);
        var l = Ops.CrossEntropy(logits, new[] { 2, -100 });
        Near(Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3)) - 3, l.Item(), 1e-5);
        // every row ignored: 0/0 = NaN as in PyTorch; the gradient is zero
        logits.RequiresGrad = true;
        var nan = Ops.CrossEntropy(logits, new[] { -100, -100 });
        Assert.True(float.IsNaN(nan.Item()));
        nan.Backward();
        Assert.All(logits.Grad!.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void CrossEntropyTargetErrorsNameIndexAndClassCount()
    {
        var logits = Tensor.Zeros(3, 50);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.CrossEntropy(logits, new[] { 0, 50, 1 }));
        Assert.Contains("target 50", e.Message);
        Assert.Contains("row 1", e.Message);
        Assert.Contains("50 classes", e.Message);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.CrossEntropyPerPosition(logits, new[] { 0, -2, 1 }));
        Assert.Contains("target -2", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => Ops.CrossEntropy(logits, new[] { 0, 1 }));
        Assert.Contains("2 targets", e3.Message);
        var e4 = Assert.Throws<ArgumentException>(() => Ops.CrossEntropy(Tensor.Zeros(2, 3, 4), new[] { 0, 1 }));
        Assert.Contains("[2,3,4]", e4.Message);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(9, 17)]
    [InlineData(33, 7)]
    public void CrossEntropyPerPositionMatchesReferenceAndGradChecks(int n, int c)
    {
        var rng = new Rng((ulong)(n + c * 13));
        var logits = GradCheck.Input(rng, n, c);
        var targets = Enumerable.Range(0, n).Select(i => i == 1 ? -100 : rng.NextInt(c)).ToArray();
        var y = Ops.CrossEntropyPerPosition(logits, targets);
        Assert.Equal(new[] { n }, y.Shape);
        var ls = logits.ToArray();
        for (int i = 0; i < n; i++)
            Near(targets[i] == -100 ? 0 : RefRowCe(ls, i, c, targets[i]), y.Span[i], 1e-5);
        GradCheck.Check(a => Ops.CrossEntropyPerPosition(a[0], targets), new[] { logits }, label: $"ce per position {n}x{c}");
        // mean of the per-position losses equals the reduced loss
        var mean = Ops.CrossEntropy(logits, targets).Item();
        Near(y.ToArray().Where((_, i) => targets[i] != -100).Average(), mean, 1e-5);
    }

    // ---- MSE / L1 ----------------------------------------------------------------------------------------

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(33)]
    public void MseAndL1MatchReferenceAndGradCheckBothInputs(int n)
    {
        var rng = new Rng((ulong)n);
        var p = GradCheck.Input(rng, n, 3);
        var t = GradCheck.Input(rng, n, 3);
        var ps = p.ToArray(); var ts = t.ToArray();
        double mse = ps.Zip(ts, (a, b) => (double)(a - b) * (a - b)).Average();
        double l1 = ps.Zip(ts, (a, b) => Math.Abs((double)a - b)).Average();
        Near(mse, Ops.MseLoss(p, t).Item(), 1e-5);
        Near(l1, Ops.L1Loss(p, t).Item(), 1e-5);
        GradCheck.Check(a => Ops.MseLoss(a[0], a[1]), new[] { p, t }, label: "mse");
        GradCheck.Check(a => Ops.L1Loss(a[0], a[1]), new[] { p, t }, label: "l1");
    }

    [Fact]
    public void PairLossesRejectShapeMismatch()
    {
        var e = Assert.Throws<ArgumentException>(() => Ops.MseLoss(Tensor.Zeros(2, 3), Tensor.Zeros(3, 2)));
        Assert.Contains("[2,3]", e.Message);
        Assert.Contains("[3,2]", e.Message);
        Assert.Throws<ArgumentException>(() => Ops.L1Loss(Tensor.Zeros(4), Tensor.Zeros(4, 1)));
    }

    [Fact]
    public void L1GradientIsZeroAtTies()
    {
        var p = Tensor.FromArray(new[] { 1f, 2f, 3f }, 3); p.RequiresGrad = true;
        var t = Tensor.FromArray(new[] { 1f, 0f, 5f }, 3);
        Ops.L1Loss(p, t).Backward();
        Assert.Equal(new[] { 0f, 1f / 3, -1f / 3 }, p.Grad!.ToArray());
    }

    // ---- PyTorch parity ---------------------------------------------------------------------------------

    private static double RelErr(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ToArray(); var a = actual.ToArray();
        double maxAbs = Math.Max(1e-12, e.Max(x => Math.Abs((double)x))), maxErr = 0;
        for (int i = 0; i < e.Length; i++) maxErr = Math.Max(maxErr, Math.Abs((double)e[i] - a[i]));
        return maxErr / maxAbs;
    }

    [Fact]
    public void MatchesPyTorchLosses()
    {
        // tools/parity/make_losses.py; tolerance: max |err| / max |value| ≤ 1e-5
        const double tol = 1e-5;
        var path = SafeTensorsTests.DataFile("parity/losses.safetensors");
        var f = SafeTensors.Load(path);
        var targets = SafeTensors.LoadInt32(path, "targets").Data;
        int ignore = (int)f["ignore_index"].Item();

        var logits = f["logits"]; logits.RequiresGrad = true;
        var ce = Ops.CrossEntropy(logits, targets, ignore);
        Assert.True(RelErr(f["ce_loss"], ce) <= tol, $"ce loss {ce.Item()} vs {f["ce_loss"].Item()}");
        ce.Backward();
        Assert.True(RelErr(f["ce_dlogits"], logits.Grad!) <= tol, "ce dlogits");

        var logits2 = f["logits"]; logits2.Grad = null;
        var pp = Ops.CrossEntropyPerPosition(logits2, SafeTensors.LoadInt32(path, "targets_pp").Data);
        Assert.True(RelErr(f["ce_pp_loss"], pp) <= tol, "per-position ce");
        pp.Backward(f["ce_pp_grad"]);
        Assert.True(RelErr(f["ce_pp_dlogits"], logits2.Grad!) <= tol, "per-position dlogits");

        var pred = f["mse_pred"]; var tgt = f["mse_target"];
        pred.RequiresGrad = tgt.RequiresGrad = true;
        var mse = Ops.MseLoss(pred, tgt);
        Assert.True(RelErr(f["mse_loss"], mse) <= tol, "mse");
        mse.Backward();
        Assert.True(RelErr(f["mse_dpred"], pred.Grad!) <= tol, "mse dpred");
        Assert.True(RelErr(f["mse_dtarget"], tgt.Grad!) <= tol, "mse dtarget");

        var softIn = f["softmax_x"]; softIn.RequiresGrad = true;
        var sm = Ops.LogSoftmax(softIn, 1);
        Assert.True(RelErr(f["log_softmax_axis1"], sm) <= tol, "log_softmax");
        sm.Backward(f["log_softmax_grad"]);
        Assert.True(RelErr(f["log_softmax_dx"], softIn.Grad!) <= tol, "log_softmax dx");
    }
}
