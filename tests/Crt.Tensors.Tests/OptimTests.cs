using Crt.Tensors;
using Crt.Tensors.IO;
using Crt.Tensors.Nn;
using Crt.Tensors.Optim;
using Xunit;

namespace Crt.Tensors.Tests;

public sealed class OptimTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-optim-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>PyTorch's Adam/AdamW recurrences written out in double.</summary>
    private static double[] ReferenceAdam(float[] p0, IReadOnlyList<float[]> grads, double lr, double b1, double b2, double eps, double wd, bool decoupled)
    {
        var p = p0.Select(x => (double)x).ToArray();
        var m = new double[p.Length];
        var v = new double[p.Length];
        for (int t = 1; t <= grads.Count; t++)
        {
            double bc1 = 1 - Math.Pow(b1, t), bc2 = 1 - Math.Pow(b2, t);
            for (int i = 0; i < p.Length; i++)
            {
                double g = grads[t - 1][i];
                if (decoupled) p[i] *= 1 - lr * wd;
                else g += wd * p[i];
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                p[i] -= lr / bc1 * m[i] / (Math.Sqrt(v[i]) / Math.Sqrt(bc2) + eps);
            }
        }
        return p;
    }

    private static Tensor Param(float[] values) => Tensor.FromArray((float[])values.Clone(), values.Length).Also(t => t.RequiresGrad = true);

    private static void AssertClose(double[] expected, float[] actual, double tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"element {i}: expected {expected[i]}, got {actual[i]}");
    }

    [Theory]
    [InlineData(false, 1, 37)]
    [InlineData(false, 5, 37)]
    [InlineData(true, 1, 37)]
    [InlineData(true, 6, 3)]
    [InlineData(true, 4, 50_001)] // large enough for the kernel to split across threads
    [InlineData(false, 3, 16)]
    public void AdamMatchesTheDoubleReference(bool adamw, int steps, int size)
    {
        var rng = new Rng((ulong)(steps * 100 + size));
        var p0 = rng.Normal(new[] { size }).ToArray();
        var grads = Enumerable.Range(0, steps).Select(_ => rng.Normal(new[] { size }, 0, 0.1f).ToArray()).ToList();
        grads[0][0] = 0; // a zero gradient must not divide by zero
        double lr = 0.01, wd = 0.1, b1 = 0.9, b2 = 0.95, eps = 1e-8;
        var p = Param(p0);
        Adam opt = adamw
            ? new AdamW(new[] { ("p", p) }, lr, b1, b2, eps, wd)
            : new Adam(new[] { ("p", p) }, lr, b1, b2, eps, wd);
        foreach (var g in grads)
        {
            p.Grad = Tensor.FromArray((float[])g.Clone(), size);
            opt.Step();
        }
        AssertClose(ReferenceAdam(p0, grads, lr, b1, b2, eps, wd, adamw), p.ToArray(), 2e-6);
        Assert.Equal(steps, opt.StepCount);
        Assert.Equal(steps, opt.ParameterStep("p"));
    }

    [Fact]
    public void AdamAndAdamWMatchValuesTorchComputed()
    {
        // torch 1.13: betas (0.9, 0.95), eps 1e-6, lr 0.01, weight_decay 0.1, three steps with these gradients.
        float[] p0 = { 0.5f, -1f, 2f, 0f, 3f };
        var grads = new List<float[]>
        {
            new[] { 0.1f, -0.2f, 0.3f, 0f, -1e-3f }, new[] { 0.05f, 0.4f, -0.3f, 1f, -1e-3f }, new[] { -0.2f, 0.1f, 0f, 2f, 5f },
        };
        var torchAdam = new[] { 0.47866857051849365, -0.9909824728965759, 1.978751301765442, -0.01547335833311081, 2.9731879234313965 };
        var torchAdamW = new[] { 0.4811723828315735, -0.9948258996009827, 1.9849640130996704, -0.01546565443277359, 3.0047290325164795 };
        foreach (var adamw in new[] { false, true })
        {
            var p = Param(p0);
            Adam opt = adamw ? new AdamW(new[] { ("p", p) }, 0.01, 0.9, 0.95, 1e-6, 0.1) : new Adam(new[] { ("p", p) }, 0.01, 0.9, 0.95, 1e-6, 0.1);
            foreach (var g in grads) { p.Grad = Tensor.FromArray((float[])g.Clone(), 5); opt.Step(); }
            AssertClose(adamw ? torchAdamW : torchAdam, p.ToArray(), 1e-6);
        }
    }

    [Fact]
    public void GroupsKeepTheirOwnHyperparametersAndSkipMissingGradients()
    {
        var rng = new Rng(2);
        var a0 = rng.Normal(new[] { 9 }).ToArray();
        var b0 = rng.Normal(new[] { 4 }).ToArray();
        var a = Param(a0); var b = Param(b0);
        var opt = new AdamW(new[]
        {
            new ParamGroup(new[] { ("a", a) }, lr: 0.05, weightDecay: 0.2),
            new ParamGroup(new[] { ("b", b) }), // optimizer defaults
        }, lr: 0.001, weightDecay: 0);
        Assert.Equal(0.001, opt.Groups[1].Lr);
        var ga = new List<float[]>(); var gb = new List<float[]>();
        for (int s = 0; s < 3; s++)
        {
            ga.Add(rng.Normal(new[] { 9 }).ToArray());
            a.Grad = Tensor.FromArray((float[])ga[^1].Clone(), 9);
            // b gets no gradient on the middle step: it is skipped and its step count does not advance.
            if (s != 1) { gb.Add(rng.Normal(new[] { 4 }).ToArray()); b.Grad = Tensor.FromArray((float[])gb[^1].Clone(), 4); }
            else b.Grad = null;
            opt.Step();
        }
        AssertClose(ReferenceAdam(a0, ga, 0.05, 0.9, 0.999, 1e-8, 0.2, true), a.ToArray(), 2e-6);
        AssertClose(ReferenceAdam(b0, gb, 0.001, 0.9, 0.999, 1e-8, 0, true), b.ToArray(), 2e-6);
        Assert.Equal(3, opt.ParameterStep("a"));
        Assert.Equal(2, opt.ParameterStep("b"));
        Assert.Equal(3, opt.StepCount);

        opt.Groups[0].LrScale = 0.5;
        opt.SetLr(0.2);
        Assert.Equal(0.1, opt.Groups[0].Lr);
        Assert.Equal(0.2, opt.Groups[1].Lr);
        opt.ZeroGrad();
        Assert.Null(a.Grad);

        Assert.Contains("'a' appears twice", Assert.Throws<ArgumentException>(() => new AdamW(new[] { ("a", a), ("a", b) })).Message);
        Assert.Contains("betas", Assert.Throws<ArgumentException>(() => new Adam(new[] { ("a", a) }, beta1: 1.0)).Message);
    }

    [Fact]
    public void ResetRowsZeroesBothMomentsOfThoseRowsOnly()
    {
        var w = Tensor.FromArray(new Rng(5).Normal(new[] { 4, 3 }).ToArray(), 4, 3).Also(t => t.RequiresGrad = true);
        var opt = new Adam(new[] { ("w", w) }, lr: 0.01);
        w.Grad = new Rng(6).Normal(new[] { 4, 3 });
        opt.Step();
        var (m0, v0) = opt.Moments("w")!.Value;
        opt.ResetRows("w", new[] { 1, 3 });
        var (m, v) = opt.Moments("w")!.Value;
        for (int i = 0; i < 12; i++)
        {
            bool reset = i / 3 is 1 or 3;
            Assert.Equal(reset ? 0f : m0[i], m[i]);
            Assert.Equal(reset ? 0f : v0[i], v[i]);
        }
        Assert.NotEqual(0f, m0[3]); // the reset rows held momentum before
        Assert.Equal(1, opt.ParameterStep("w"));
        Assert.Contains("no parameter named 'x'", Assert.Throws<ArgumentException>(() => opt.ResetRows("x", new[] { 0 })).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => opt.ResetRows("w", new[] { 4 }));
    }

    [Fact]
    public void DecaySplitPutsMatricesInTheDecayGroup()
    {
        var model = new Sequential(new Linear(3, 4, rng: new Rng(1)), new LayerNorm(4), new Conv2d(2, 2, 3, rng: new Rng(2)));
        var groups = ParamGroup.DecayAndNoDecay(model.NamedParameters(), 0.05);
        Assert.Equal(new[] { "0.weight", "2.weight" }, groups[0].Parameters.Select(p => p.Name));
        Assert.Equal(new[] { "0.bias", "1.weight", "1.bias", "2.bias" }, groups[1].Parameters.Select(p => p.Name));
        Assert.Equal(0.05, groups[0].WeightDecay);
        Assert.Equal(0, groups[1].WeightDecay);
        var opt = new AdamW(groups, lr: 1e-3);
        Assert.Equal(model.ParameterCount, opt.NamedParameters().Sum(p => (long)p.Parameter.Size));
    }

    // ---- state save / load --------------------------------------------------------------------------

    private static Sequential Model(ulong seed, int hidden = 4) =>
        new(new Linear(3, hidden, rng: new Rng(seed)), new LayerNorm(hidden), new Linear(hidden, 2, rng: new Rng(seed + 1)));

    /// <summary>Deterministic gradients; before step 3 the LayerNorm bias ("1.bias") gets none.</summary>
    private static void FakeGrads(Module m, int step)
    {
        var rng = new Rng((ulong)(1000 + step));
        foreach (var (name, p) in m.NamedParameters()) p.Grad = name == "1.bias" && step < 3 ? null : rng.Normal(p.Shape);
    }

    [Fact]
    public void OptimizerStateResumesExactly()
    {
        var a = Model(1);
        var optA = new AdamW(ParamGroup.DecayAndNoDecay(a.NamedParameters(), 0.1), lr: 0.01);
        for (int s = 0; s < 3; s++) { FakeGrads(a, s); optA.Step(); }
        // A parameter that never had a gradient has no state; that must survive too.
        var modelPath = Path.Combine(_dir, "model.safetensors");
        var optPath = Path.Combine(_dir, "opt.safetensors");
        a.Save(modelPath);
        optA.SaveState(optPath);

        var b = Model(7);
        b.Load(modelPath);
        var optB = new AdamW(ParamGroup.DecayAndNoDecay(b.NamedParameters(), 0.1), lr: 0.01);
        optB.LoadState(optPath);
        Assert.Equal(3, optB.StepCount);
        Assert.Equal(3, optB.ParameterStep("0.weight"));
        Assert.Equal(0, optB.ParameterStep("1.bias"));
        for (int s = 3; s < 6; s++)
        {
            FakeGrads(a, s); optA.Step();
            FakeGrads(b, s); optB.Step();
        }
        foreach (var (name, t) in a.StateDict()) Assert.Equal(t.ToArray(), b.StateDict()[name].ToArray());

        // The moments are stored under the parameter names.
        var header = SafeTensors.ReadHeader(optPath);
        Assert.True(header.Contains("0.weight.exp_avg") && header.Contains("2.bias.exp_avg_sq"));
    }

    [Fact]
    public void OptimizerStateMismatchNamesTheParameter()
    {
        var a = Model(1);
        var opt = new AdamW(a.NamedParameters());
        FakeGrads(a, 0);
        opt.Step();
        var path = Path.Combine(_dir, "opt.safetensors");
        opt.SaveState(path);

        // Different shapes under the same names.
        var wide = Model(1, hidden: 5);
        var e = Assert.Throws<InvalidDataException>(() => new AdamW(wide.NamedParameters()).LoadState(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains("'0.weight'", e.Message);
        Assert.Contains("[4,3]", e.Message);

        // A parameter the file lacks, and one the optimizer lacks.
        var extra = new Sequential(new Linear(3, 4), new LayerNorm(4), new Linear(4, 2), new Linear(2, 2));
        var e2 = Assert.Throws<InvalidDataException>(() => new AdamW(extra.NamedParameters()).LoadState(path));
        Assert.Contains("parameter '3.weight' has no saved state", e2.Message);
        var fewer = new Sequential(new Linear(3, 4), new LayerNorm(4));
        var e3 = Assert.Throws<InvalidDataException>(() => new AdamW(fewer.NamedParameters()).LoadState(path));
        Assert.Contains("'2.weight', which this optimizer does not have", e3.Message);

        // A model file is not an optimizer state file.
        var modelPath = Path.Combine(_dir, "model.safetensors");
        a.Save(modelPath);
        Assert.Contains("not an optimizer state file", Assert.Throws<InvalidDataException>(() => opt.LoadState(modelPath)).Message);
    }

    // ---- clipping -------------------------------------------------------------------------------------

    [Fact]
    public void ClipGradNormFollowsPyTorch()
    {
        var a = Param(new float[2]); var b = Param(new float[1]); var c = Param(new float[3]);
        a.Grad = Tensor.FromArray(new[] { 3f, 4f }, 2);
        b.Grad = Tensor.FromArray(new[] { 12f }, 1);
        c.Grad = null; // ignored
        float total = GradClip.ClipGradNorm(new[] { a, b, c }, 1.0);
        Assert.Equal(13f, total);
        double coef = 1.0 / (13 + 1e-6);
        AssertClose(new[] { 3 * coef, 4 * coef }, a.Grad.ToArray(), 1e-7);
        AssertClose(new[] { 12 * coef }, b.Grad.ToArray(), 1e-7);

        // Below the limit nothing changes, and the norm is still reported.
        a.Grad = Tensor.FromArray(new[] { 3f, 4f }, 2);
        Assert.Equal(5f, GradClip.ClipGradNorm(new[] { a }, 10));
        Assert.Equal(new[] { 3f, 4f }, a.Grad.ToArray());
        Assert.Equal(0f, GradClip.ClipGradNorm(new[] { c }, 1));

        // A large gradient: the double accumulation keeps the norm accurate.
        var big = Param(new float[100_003]);
        big.Grad = Tensor.Full(0.01f, 100_003);
        Assert.Equal(Math.Sqrt(100_003) * 0.01, GradClip.ClipGradNorm(new[] { big }, 100), 4);

        a.Grad = Tensor.FromArray(new[] { float.NaN, 1f }, 2);
        Assert.True(float.IsNaN(GradClip.ClipGradNorm(new[] { a }, 1)));
        a.Grad = Tensor.FromArray(new[] { float.PositiveInfinity, 1f }, 2);
        Assert.Throws<InvalidOperationException>(() => GradClip.ClipGradNorm(new[] { a }, 1, errorIfNonfinite: true));
    }

    // ---- EMA ----------------------------------------------------------------------------------------

    [Fact]
    public void EmaAveragesSwapsAndRestores()
    {
        var model = new Sequential(new Linear(2, 3, rng: new Rng(1)));
        var w = model.StateDict()["0.weight"];
        var w0 = w.ToArray();
        var ema = new Ema(model);
        Assert.Equal(new[] { "0.weight", "0.bias" }, ema.NamedShadows().Select(s => s.Name));

        w.Span.Fill(1f);
        ema.Update(0.9);
        var expected = w0.Select(x => 0.9 * x + 0.1).ToArray();
        w.Span.Fill(2f);
        ema.Update(0.5);
        expected = expected.Select(x => 0.5 * x + 0.5 * 2).ToArray();
        AssertClose(expected, ema.StateDict()["0.weight"].ToArray(), 1e-6);
        Assert.Equal(2, ema.Updates);

        using (ema.SwapIn())
        {
            AssertClose(expected, w.ToArray(), 1e-6);
            Assert.All(ema.StateDict()["0.weight"].ToArray(), v => Assert.Equal(2f, v));
        }
        Assert.All(w.ToArray(), v => Assert.Equal(2f, v));
        AssertClose(expected, ema.StateDict()["0.weight"].ToArray(), 1e-6);

        // Round trip through a state dict, and mismatches named.
        var other = new Ema(model);
        other.LoadStateDict(ema.StateDict());
        Assert.Equal(ema.StateDict()["0.bias"].ToArray(), other.StateDict()["0.bias"].ToArray());
        var bad = ema.StateDict();
        bad.Remove("0.bias");
        Assert.Contains("missing '0.bias'", Assert.Throws<InvalidOperationException>(() => other.LoadStateDict(bad)).Message);

        ema.CopyToLive();
        AssertClose(expected, w.ToArray(), 1e-6);
        Assert.Throws<ArgumentOutOfRangeException>(() => ema.Update(1.5));
    }

    // ---- schedules ----------------------------------------------------------------------------------

    [Fact]
    public void SchedulesGiveTheirValues()
    {
        var c = LrSchedule.WarmupCosine(1.0, warmupSteps: 10, totalSteps: 110, minLr: 0.1);
        Assert.Equal(0.1, c.At(0), 12);
        Assert.Equal(0.5, c.At(4), 12);
        Assert.Equal(1.0, c.At(9), 12);
        Assert.Equal(1.0, c.At(10), 12);
        Assert.Equal(0.55, c.At(60), 12);
        Assert.Equal(0.1 + 0.45 * (1 + Math.Cos(Math.PI * 0.25)), c.At(35), 12);
        Assert.Equal(0.1, c.At(110), 12);
        Assert.Equal(0.1, c.At(5000), 12);
        for (long s = 10; s < 110; s++) Assert.True(c.At(s + 1) <= c.At(s));

        var w = LrSchedule.LinearWarmup(2.0, 4);
        Assert.Equal(new[] { 0.5, 1.0, 1.5, 2.0, 2.0, 2.0 }, Enumerable.Range(0, 6).Select(s => w.At(s)));
        Assert.Equal(3e-4, LrSchedule.Constant(3e-4).At(123456));
        Assert.Equal(1.0, LrSchedule.WarmupCosine(1.0, 0, 100).At(0), 12);
        Assert.Equal(0.0, LrSchedule.WarmupCosine(1.0, 0, 100).At(100), 12);
        Assert.Throws<ArgumentException>(() => LrSchedule.WarmupCosine(1.0, 10, 5));
    }

    // ---- end to end -----------------------------------------------------------------------------------

    [Fact]
    public void SmallMlpLearnsAToyRegressionWithAdamW()
    {
        // 2 → 32 → 32 → 1 on y = sin(2x₁)·cos(x₂) over 256 points: full-batch AdamW must cut the MSE ≥ 50× (it falls ≈600×).
        var rng = new Rng(42);
        const int n = 256;
        var x = rng.Uniform(new[] { n, 2 }, -1.5f, 1.5f);
        var yArr = new float[n];
        for (int i = 0; i < n; i++) yArr[i] = MathF.Sin(2 * x[i, 0]) * MathF.Cos(x[i, 1]);
        var y = Tensor.FromArray(yArr, n, 1);

        var model = new Sequential(new Linear(2, 32, rng: rng), Activation.Tanh(), new Linear(32, 32, rng: rng), Activation.Tanh(), new Linear(32, 1, rng: rng));
        var opt = new AdamW(ParamGroup.DecayAndNoDecay(model.NamedParameters(), 1e-4), lr: 1e-2);
        var schedule = LrSchedule.WarmupCosine(1e-2, 20, 400, 1e-3);
        float first = 0, last = 0;
        for (int step = 0; step < 400; step++)
        {
            using var scope = TensorScope.Begin();
            opt.SetLr(schedule.At(step));
            var loss = Ops.MseLoss(model.Forward(x), y);
            opt.ZeroGrad();
            loss.Backward();
            GradClip.ClipGradNorm(model.Parameters(), 1.0);
            opt.Step();
            if (step == 0) first = loss.Item();
            last = loss.Item();
        }
        Assert.True(last * 50 <= first, $"MSE fell from {first} to {last}, less than 50×");
    }
}

internal static class TestExtensions
{
    public static T Also<T>(this T value, Action<T> act) { act(value); return value; }
}

public class AdamWParityTests
{
    [Fact]
    public void TwoAdamWStepsWithDecayGroupsMatchPyTorch()
    {
        var f = Parity.Load("adamw");
        var w = f["w0"].Clone(); w.RequiresGrad = true;
        var b = f["b0"].Clone(); b.RequiresGrad = true;
        var groups = ParamGroup.DecayAndNoDecay(new[] { ("w", w), ("b", b) }, 0.05);
        var opt = new AdamW(groups, lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8);
        for (int step = 1; step <= 2; step++)
        {
            w.Grad = f[$"gw{step}"].Clone();
            b.Grad = f[$"gb{step}"].Clone();
            opt.Step();
            Parity.AssertClose(f[$"w{step}"], w, 1e-6, $"adamw weight after step {step}");
            Parity.AssertClose(f[$"b{step}"], b, 1e-6, $"adamw bias after step {step}");
        }
        var v = opt.Moments("w")!.Value.ExpAvgSq;
        Parity.AssertClose(f["w_exp_avg_sq"], Tensor.FromArray(v, 33, 17), 1e-6, "adamw exp_avg_sq");
    }
}
