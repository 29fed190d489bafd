namespace Crt.Tensors.Nn;

/// <summary>
/// In-place initialisers with torch.nn.init's semantics (fan computation, gains, bounds). Each takes
/// the <see cref="Rng"/> to draw from, so a seed fixes a model's initial weights.
/// </summary>
public static class Init
{
    public enum FanMode { FanIn, FanOut }

    public static void Zeros(Tensor t) => t.Span.Clear();

    public static void Ones(Tensor t) => t.Span.Fill(1f);

    public static void Constant(Tensor t, float value) => t.Span.Fill(value);

    public static void Uniform(Tensor t, Rng rng, double low = 0, double high = 1)
    {
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (float)(low + (high - low) * rng.NextDouble());
    }

    public static void Normal(Tensor t, Rng rng, double mean = 0, double std = 1)
    {
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (float)(mean + std * rng.NextNormal());
    }

    /// <summary>torch.nn.init._calculate_fan_in_and_fan_out: dim 1 is inputs, dim 0 outputs, the rest the receptive field.</summary>
    public static (int FanIn, int FanOut) Fans(int[] shape)
    {
        if (shape.Length < 2)
            throw new ArgumentException($"init: fan in and fan out need a tensor of at least 2 dimensions, got {ShapeUtil.Format(shape)}");
        int receptive = 1;
        for (int i = 2; i < shape.Length; i++) receptive *= shape[i];
        return (shape[1] * receptive, shape[0] * receptive);
    }

    /// <summary>torch.nn.init.calculate_gain.</summary>
    public static double Gain(string nonlinearity, double? param = null) => nonlinearity switch
    {
        "linear" or "conv1d" or "conv2d" or "conv3d" or "sigmoid" => 1.0,
        "tanh" => 5.0 / 3,
        "relu" => Math.Sqrt(2.0),
        "leaky_relu" => Math.Sqrt(2.0 / (1 + Math.Pow(param ?? 0.01, 2))),
        "selu" => 3.0 / 4,
        _ => throw new ArgumentException($"init: unsupported nonlinearity '{nonlinearity}' (linear, conv2d, sigmoid, tanh, relu, leaky_relu, selu)"),
    };

    /// <summary>kaiming_uniform_: U(−b, b) with b = gain·√(3 / fan). PyTorch's Linear/Conv2d default is a = √5.</summary>
    public static void KaimingUniform(Tensor t, Rng rng, double a = 0, FanMode mode = FanMode.FanIn, string nonlinearity = "leaky_relu")
    {
        double std = Gain(nonlinearity, a) / Math.Sqrt(Fan(t, mode));
        double bound = Math.Sqrt(3.0) * std;
        Uniform(t, rng, -bound, bound);
    }

    public static void KaimingNormal(Tensor t, Rng rng, double a = 0, FanMode mode = FanMode.FanIn, string nonlinearity = "leaky_relu")
        => Normal(t, rng, 0, Gain(nonlinearity, a) / Math.Sqrt(Fan(t, mode)));

    public static void XavierUniform(Tensor t, Rng rng, double gain = 1)
    {
        var (fi, fo) = Fans(t.Shape);
        double bound = Math.Sqrt(3.0) * gain * Math.Sqrt(2.0 / (fi + fo));
        Uniform(t, rng, -bound, bound);
    }

    public static void XavierNormal(Tensor t, Rng rng, double gain = 1)
    {
        var (fi, fo) = Fans(t.Shape);
        Normal(t, rng, 0, gain * Math.Sqrt(2.0 / (fi + fo)));
    }

    /// <summary>
    /// trunc_normal_: N(mean, std²) restricted to [a, b] (absolute bounds, as PyTorch), drawn by
    /// inverting the normal CDF over the kept interval, so no draw is ever rejected.
    /// </summary>
    public static void TruncNormal(Tensor t, Rng rng, double mean = 0, double std = 1, double a = -2, double b = 2)
    {
        if (!(std > 0)) throw new ArgumentException($"trunc_normal: std must be positive, got {std}");
        if (!(a < b)) throw new ArgumentException($"trunc_normal: bounds [{a}, {b}] are empty");
        double lo = NormalCdf((a - mean) / std), hi = NormalCdf((b - mean) / std);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++)
        {
            double u = lo + (hi - lo) * rng.NextDouble();
            double x = mean + std * NormalQuantile(u);
            s[i] = (float)Math.Clamp(x, a, b);
        }
    }

    private static int Fan(Tensor t, FanMode mode)
    {
        var (fi, fo) = Fans(t.Shape);
        return mode == FanMode.FanIn ? fi : fo;
    }

    // ---- the normal distribution's CDF and quantile (double precision) ---------------------------

    /// <summary>Φ(x).</summary>
    public static double NormalCdf(double x) => 0.5 * Erfc(-x / Math.Sqrt(2));

    /// <summary>erfc(x): a power series near zero, a continued fraction in the tails (both to ~1e-15).</summary>
    public static double Erfc(double x)
    {
        if (x < 0) return 2 - Erfc(-x);
        if (x < 2.5)
        {
            // erf(x) = 2/√π Σ (−1)ⁿ x^(2n+1) / (n! (2n+1))
            double sum = 0, term = x, x2 = x * x;
            for (int n = 0; n < 200; n++)
            {
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
                term *= -x2 / (n + 1);
            }
            return 1 - 2 / Math.Sqrt(Math.PI) * sum;
        }
        // Lentz's method for erfc(x) = e^(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …)))).
        double tiny = 1e-300, f = x, c = x, d = 0;
        for (int k = 1; k < 500; k++)
        {
            double ak = k / 2.0;
            d = x + ak * d; d = Math.Abs(d) < tiny ? tiny : d; d = 1 / d;
            c = x + ak / c; c = Math.Abs(c) < tiny ? tiny : c;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / f;
    }

    /// <summary>Φ⁻¹(p): Acklam's rational approximation refined by Newton steps on <see cref="NormalCdf"/>.</summary>
    public static double NormalQuantile(double p)
    {
        if (p <= 0) return double.NegativeInfinity;
        if (p >= 1) return double.PositiveInfinity;
        double[] a = { -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00 };
        double[] b = { -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01 };
        double[] c = { -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00 };
        double[] d = { 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00 };
        const double pLow = 0.02425;
        double x;
        if (p < pLow)
        {
            double q = Math.Sqrt(-2 * Math.Log(p));
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        else if (p <= 1 - pLow)
        {
            double q = p - 0.5, r = q * q;
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
        }
        else
        {
            double q = Math.Sqrt(-2 * Math.Log(1 - p));
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        for (int it = 0; it < 2; it++)
        {
            double pdf = Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI);
            if (pdf < 1e-300) break;
            x -= (NormalCdf(x) - p) / pdf;
        }
        return x;
    }
}
