using System.Globalization;
using MathNet.Numerics.Distributions;

namespace Crt.Scaling;

/// <summary>
/// The mean of a quantity over replicates (seeds) with its 95% Student-t interval: mean ± t(0.975, n−1)·s/√n.
/// With one replicate there is no interval (<see cref="HalfWidth"/> is NaN) and only the mean is shown.
/// </summary>
public sealed record MeanInterval(int N, double Mean, double Sd, double HalfWidth)
{
    public static MeanInterval Of(IEnumerable<double> values)
    {
        var v = values.ToArray();
        if (v.Length == 0) return new(0, double.NaN, double.NaN, double.NaN);
        double mean = v.Average();
        if (v.Length == 1) return new(1, mean, double.NaN, double.NaN);
        double sd = Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1));
        return new(v.Length, mean, sd, StudentT.InvCDF(0, 1, v.Length - 1, 0.975) * sd / Math.Sqrt(v.Length));
    }

    public double Low => Mean - HalfWidth;
    public double High => Mean + HalfWidth;

    /// <summary>"12.3 ± 0.4" (or "12.3" with one replicate, "–" with none), in the given numeric format.</summary>
    public string Format(string format) => N switch
    {
        0 => "–",
        1 => Mean.ToString(format, CultureInfo.InvariantCulture),
        _ => $"{Mean.ToString(format, CultureInfo.InvariantCulture)} ± {HalfWidth.ToString(format, CultureInfo.InvariantCulture)}",
    };
}
