using Crt.Tensors;
using Xunit;

namespace Crt.Tensors.Tests;

public class ActivationTests
{
    // ---- float64 references ---------------------------------------------------------------------------

    /// <summary>erfc in float64: power series below 3 (≈1e-14 absolute), continued fraction above (relative accuracy in the tail).</summary>
    internal static double Erfc(double x)
    {
        if (x < 0) return 2 - Erfc(-x);
        if (x < 3)
        {
            double x2 = x * x, term = x, sum = x;
            for (int n = 1; n < 200; n++)
            {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
            }
            return 1 - 2 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc(x) = e^{−x²}/√π / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
        double k = x;
        for (int j = 300; j >= 1; j--) k = x + j / 2.0 / k;
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / k;
    }

    internal static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
    private static double Phi(double x) => 0.5 * Erfc(-x / Math.Sqrt(2));
    private static double Gauss(double x) => Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI);
    private const double K = 0.7978845608028654, Kappa = 0.044715;
    private static double GeluTanh(double x) => 0.5 * x * (1 + Math.Tanh(K * (x + Kappa * x * x * x)));
    private static double GeluTanhGrad(double x)
    {
        double t = Math.Tanh(K * (x + Kappa * x * x * x));
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * K * (1 + 3 * Kappa * x * x);
    }

    /// <param name="Rtol">Relative tolerance: a few ulp, more for gelu_tanh whose exp argument (up to ≈ −40 where results are
    /// above 1e-15) is itself rounded to float, as in any float32 implementation.</param>
    private sealed record Act(string Name, Func<Tensor, Tensor> Op, Func<double, double> F, Func<double, double> Df, bool Kink = false, double Rtol = 1e-6);

    private static readonly Act[] Acts =
    {
        new("silu", Ops.Silu, x => x * Sigmoid(x), x => Sigmoid(x) * (1 + x * (1 - Sigmoid(x)))),
        new("sigmoid", Ops.Sigmoid, Sigmoid, x => Sigmoid(x) * (1 - Sigmoid(x))),
        new("tanh", Ops.Tanh, Math.Tanh, x => 1 - Math.Tanh(x) * Math.Tanh(x)),
        new("relu", Ops.Relu, x => Math.Max(x, 0), x => x > 0 ? 1 : 0, Kink: true),
        new("leaky_relu(0.2)", x => Ops.LeakyRelu(x, 0.2f), x => x > 0 ? x : 0.2 * x, x => x > 0 ? 1 : 0.2, Kink: true),
        new("leaky_relu(default)", x => Ops.LeakyRelu(x), x => x > 0 ? x : 0.01 * x, x => x > 0 ? 1 : 0.01, Kink: true),
        new("gelu", x => Ops.Gelu(x), x => x * Phi(x), x => Phi(x) + x * Gauss(x)),
        new("gelu_tanh", x => Ops.Gelu(x, tanhApproximation: true), GeluTanh, GeluTanhGrad, Rtol: 1e-5),
    };

    public static TheoryData<string> ActNames => new(Acts.Select(a => a.Name));

    /// <summary>A sweep over [-12, 12] plus random values; sizes cover SIMD tails and the multi-core path.</summary>
    private static float[] Inputs(int n, ulong seed)
    {
        var rng = new Rng(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++)
            v[i] = i % 2 == 0 ? (float)(-12 + 24.0 * i / Math.Max(1, n - 1)) : (float)(3 * rng.NextNormal());
        return v;
    }

    [Theory]
    [MemberData(nameof(ActNames))]
    public void ForwardAndBackwardMatchFloat64Reference(string name) => MatchFloat64Reference(name, 1, 3, 7, 16, 17, 33, 1000, 70001);

    /// <summary>The activation's forward and backward against float64 at the current SIMD width (also run at every
    /// width by <see cref="PointwiseWidthTests"/>).</summary>
    internal static void MatchFloat64Reference(string name, params int[] sizes)
    {
        var act = Acts.Single(a => a.Name == name);
        foreach (int n in sizes)
        {
            var data = Inputs(n, (ulong)n);
            var x = Tensor.FromArray(data, n);
            x.RequiresGrad = true;
            var y = act.Op(x);
            Assert.Equal(new[] { n }, y.Shape);
            var g = new Rng(7).Normal(new[] { n });
            y.Backward(g);
            var ya = y.ToArray();
            var dx = x.Grad!.ToArray();
            for (int i = 0; i < n; i++)
            {
                double xi = data[i];
                double f = act.F(xi), df = act.Df(xi) * g.Span[i];
                // float32-accurate: a few ulp relative, plus a floor near 0 (for gradients: a few ulp of |g|, as
                // tanh' = 1 − y² and σ' = y(1 − y) are formed from the rounded output, as in PyTorch)
                Assert.True(Math.Abs(ya[i] - f) <= act.Rtol * Math.Abs(f) + 1e-15, $"{name}({xi:R}) = {ya[i]:R}, expected {f:R}");
                Assert.True(Math.Abs(dx[i] - df) <= 2 * act.Rtol * Math.Abs(df) + 3e-7 * Math.Abs(g.Span[i]), $"{name}'({xi:R})·g = {dx[i]:R}, expected {df:R}");
            }
        }
    }

    [Fact]
    public void KnownValues()
    {
        var x = Tensor.FromArray(new[] { -3f, -1f, 0f, 0.5f, 1f, 2f }, 6);
        var gelu = Ops.Gelu(x).ToArray();
        // x·Φ(x) from published Φ values
        double[] phi = { 0.0013498980316301, 0.15865525393145707, 0.5, 0.6914624612740131, 0.8413447460685429, 0.9772498680518208 };
        for (int i = 0; i < 6; i++) Assert.Equal(x.Span[i] * phi[i], gelu[i], 6);
        Assert.Equal(0.8411919906, Ops.Gelu(Tensor.FromArray(new[] { 1f }, 1), tanhApproximation: true).Item(), 6);
        Assert.Equal(0.7310585786, Ops.Silu(Tensor.FromArray(new[] { 1f }, 1)).Item(), 6);
        Assert.Equal(new[] { 0f, 0f, 0f, 0.5f, 1f, 2f }, Ops.Relu(x).ToArray());
        Assert.Equal(new[] { -0.03f, -0.01f, 0f, 0.5f, 1f, 2f }, Ops.LeakyRelu(x).ToArray());
        Assert.Equal(0.15729920705028513, Erfc(1.0), 14);
        Assert.Equal(1.541725790028002, Erfc(4.0) * 1e8, 12);
    }

    [Theory]
    [MemberData(nameof(ActNames))]
    public void GradCheckAtSeveralShapes(string name)
    {
        var act = Acts.Single(a => a.Name == name);
        var rng = new Rng(11);
        foreach (var shape in new[] { new[] { 1 }, new[] { 7 }, new[] { 3, 17 }, new[] { 2, 33 } })
        {
            var x = GradCheck.Input(rng, shape);
            if (act.Kink) // keep finite differences away from the kink at 0
            {
                var s = x.Span;
                for (int i = 0; i < s.Length; i++) s[i] = MathF.CopySign(0.05f + MathF.Abs(s[i]), s[i]);
            }
            GradCheck.Check(t => act.Op(t[0]), new[] { x }, label: $"{name} {ShapeUtil.Format(shape)}");
        }
    }

    [Fact]
    public void NoGradRecordsNothingAndModulesCallTheOps()
    {
        var x = GradCheck.Input(new Rng(3), 4, 5);
        using (Tensor.NoGrad()) Assert.False(Ops.Silu(x).RequiresGrad);
        Assert.True(Ops.Silu(x).RequiresGrad);
        var m = Nn.Activation.Gelu(tanhApproximation: true);
        Assert.Equal(Ops.Gelu(x, true).ToArray(), m.Forward(x).ToArray());
        Assert.Equal(Ops.Silu(x).ToArray(), Nn.Activation.Silu().Forward(x).ToArray());
    }
}
