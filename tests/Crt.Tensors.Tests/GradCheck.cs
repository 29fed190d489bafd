using Crt.Tensors;
using Xunit;

namespace Crt.Tensors.Tests;

/// <summary>
/// Central finite-difference gradient check. The op runs in float32 (the engine's only dtype); the
/// probe loss L = Σ w·f(x) with fixed random w is accumulated in float64 and the difference quotient
/// (L(x+ε) − L(x−ε)) / 2ε is formed in float64, which is the float64 reference the analytic gradient
/// (from Backward(w)) is compared against.
/// </summary>
public static class GradCheck
{
    /// <param name="f">Builds the output from the inputs (each input is a leaf with RequiresGrad).</param>
    /// <param name="inputs">Inputs; those with RequiresGrad are checked.</param>
    /// <param name="maxProbes">At most this many elements per input are probed (chosen at random).</param>
    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 3e-3, double rtol = 1e-2,
        double atol = 1e-3, int maxProbes = 64, ulong seed = 1, string? label = null)
    {
        var rng = new Rng(seed);
        foreach (var x in inputs) x.Grad = null;
        var y = f(inputs);
        var w = rng.Normal(y.Shape);
        y.Backward(w);
        var wArr = w.ToArray();

        double Loss()
        {
            using var _ = Tensor.NoGrad();
            var o = f(inputs).ToArray();
            double s = 0;
            for (int i = 0; i < o.Length; i++) s += (double)wArr[i] * o[i];
            return s;
        }

        for (int ti = 0; ti < inputs.Length; ti++)
        {
            var x = inputs[ti];
            if (!x.RequiresGrad) continue;
            Assert.True(x.Grad is not null, $"{label}: input {ti} received no gradient");
            var analytic = x.Grad!.ToArray();
            var idx = Enumerable.Range(0, x.Size).ToArray();
            if (idx.Length > maxProbes)
            {
                for (int i = idx.Length - 1; i > 0; i--) { int j = rng.NextInt(i + 1); (idx[i], idx[j]) = (idx[j], idx[i]); }
                idx = idx[..maxProbes];
            }
            var numeric = new double[idx.Length];
            var data = x.Span;
            for (int p = 0; p < idx.Length; p++)
            {
                int i = idx[p];
                float orig = data[i];
                data[i] = (float)(orig + eps); double lp = Loss(); double hp = data[i] - (double)orig;
                data[i] = (float)(orig - eps); double lm = Loss(); double hm = (double)orig - data[i];
                data[i] = orig;
                numeric[p] = (lp - lm) / (hp + hm); // the step actually taken in float32
            }
            double scale = Math.Max(1e-6, numeric.Select(Math.Abs).Max());
            for (int p = 0; p < idx.Length; p++)
            {
                double a = analytic[idx[p]], n = numeric[p];
                double err = Math.Abs(a - n);
                Assert.True(err <= atol * Math.Max(1, scale) + rtol * Math.Abs(n),
                    $"{label}: input {ti} {ShapeUtil.Format(x.Shape)} element {idx[p]}: analytic {a:G6} vs numeric {n:G6} (|diff| {err:G3})");
            }
        }
    }

    /// <summary>A leaf tensor of N(0, 1) values that requires grad.</summary>
    public static Tensor Input(Rng rng, params int[] shape)
    {
        var t = rng.Normal(shape);
        t.RequiresGrad = true;
        return t;
    }
}
