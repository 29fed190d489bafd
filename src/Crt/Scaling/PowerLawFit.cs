namespace Crt.Scaling;

/// <summary>L(C) = L_min + exp(λ)·C^α, the paper's scaling law of a frontier against training compute C.</summary>
public sealed record PowerLaw(double LMin, double Lambda, double Alpha)
{
    public double Evaluate(double compute) => LMin + Math.Exp(Lambda + Alpha * Math.Log(compute));

    /// <summary>The compute at which the curve reaches <paramref name="value"/>; null when it never does (value ≤ L_min, or α = 0).</summary>
    public double? ComputeFor(double value)
    {
        if (!(value > LMin) || Alpha == 0) return null;
        double c = Math.Exp((Math.Log(value - LMin) - Lambda) / Alpha);
        return double.IsFinite(c) && c > 0 ? c : null;
    }
}

/// <summary>A fit: the law (null when none could be made), its residual sum of squares, and why it is not to be trusted, if it is not.</summary>
public sealed record PowerLawFitResult(PowerLaw? Law, double Rss, int Points, string? Problem)
{
    public bool Converged => Law is not null && Problem is null;
}

/// <summary>
/// Non-linear least squares for <see cref="PowerLaw"/> in the measured values (residuals L − L̂), with
/// log C as the abscissa. For a fixed L_min the model is exp(a + α·u) with u = ln C − mean(ln C) (centred
/// so a and α are nearly uncorrelated), fitted by Levenberg–Marquardt from the log-linear regression of
/// ln(L − L_min) on u. L_min itself is profiled: the residual sum of squares is minimised over the gap
/// g = min(L) − L_min on a log grid and refined by golden section. L_min is kept at or above
/// <c>floor</c> (0: neither cross-entropy nor FID can go below it) and strictly below the smallest
/// observed value; a fit whose best L_min runs into that upper guard is reported as not converged, since
/// the data then show no approach to a floor that the law could describe.
/// </summary>
public static class PowerLawFit
{
    private const int GridPoints = 41;
    /// <summary>The smallest gap between L_min and the smallest observation, relative to the largest allowed gap.</summary>
    private const double GuardFraction = 1e-4;

    public static PowerLawFitResult Fit(IReadOnlyList<double> compute, IReadOnlyList<double> values, double floor = 0)
    {
        int n = compute.Count;
        if (values.Count != n) throw new ArgumentException($"power-law fit: {n} computes and {values.Count} values");
        for (int i = 0; i < n; i++)
            if (!(compute[i] > 0) || !double.IsFinite(compute[i]) || !double.IsFinite(values[i]))
                return new PowerLawFitResult(null, double.NaN, n, $"point {i} has compute {compute[i]} and value {values[i]}: computes must be positive and values finite");
        if (compute.Distinct().Count() < 3) return new PowerLawFitResult(null, double.NaN, n, $"{compute.Distinct().Count()} distinct computes; three parameters need at least 3");
        double lo = values.Min();
        if (!(lo > floor)) return new PowerLawFitResult(null, double.NaN, n, $"the smallest value {lo} is not above the floor {floor} of L_min");

        var x = compute.Select(c => Math.Log(c)).ToArray();
        double xbar = x.Average();
        var u = x.Select(v => v - xbar).ToArray();
        var y = values.ToArray();
        double gMax = lo - floor, gMin = gMax * GuardFraction;

        // Profile over the gap on a log grid, then golden section between the best grid point's neighbours.
        var grid = Enumerable.Range(0, GridPoints).Select(k => gMin * Math.Pow(gMax / gMin, k / (GridPoints - 1.0))).ToArray();
        var fits = grid.Select(g => FixedFloor(u, y, lo - g)).ToArray();
        int best = 0;
        for (int k = 1; k < fits.Length; k++) if (fits[k].Rss < fits[best].Rss) best = k;
        if (!double.IsFinite(fits[best].Rss)) return new PowerLawFitResult(null, double.NaN, n, "no L_min gave a finite fit");
        double a = Math.Log(grid[Math.Max(0, best - 1)]), b = Math.Log(grid[Math.Min(GridPoints - 1, best + 1)]);
        var final = fits[best];
        double gBest = grid[best];
        const double phi = 0.6180339887498949;
        double c1 = b - phi * (b - a), c2 = a + phi * (b - a);
        var f1 = FixedFloor(u, y, lo - Math.Exp(c1)); var f2 = FixedFloor(u, y, lo - Math.Exp(c2));
        for (int it = 0; it < 60 && b - a > 1e-10; it++)
        {
            if (f1.Rss <= f2.Rss) { b = c2; c2 = c1; f2 = f1; c1 = b - phi * (b - a); f1 = FixedFloor(u, y, lo - Math.Exp(c1)); }
            else { a = c1; c1 = c2; f1 = f2; c2 = a + phi * (b - a); f2 = FixedFloor(u, y, lo - Math.Exp(c2)); }
        }
        foreach (var (f, g) in new[] { (f1, Math.Exp(c1)), (f2, Math.Exp(c2)) })
            if (f.Rss < final.Rss) (final, gBest) = (f, g);

        // At the floor lo − gMax is the floor up to round-off: clamp, so a pure power law reports L_min = floor, not −3E−14.
        var law = new PowerLaw(Math.Max(floor, lo - gBest), final.A - final.Alpha * xbar, final.Alpha);
        string? problem = !final.Converged ? "Levenberg–Marquardt did not converge"
            : gBest <= gMin * 1.0001 ? "L_min ran into its guard just below the smallest observed value (the points show no approach to a floor)"
            : null;
        return new PowerLawFitResult(law, final.Rss, n, problem);
    }

    private readonly record struct Inner(double A, double Alpha, double Rss, bool Converged);

    /// <summary>Levenberg–Marquardt for (a, α) of y ≈ m + exp(a + α·u) with L_min = m fixed.</summary>
    private static Inner FixedFloor(double[] u, double[] y, double m)
    {
        int n = u.Length;
        // Start from the straight line through (u, ln(y − m)).
        double su = 0, sz = 0, suu = 0, suz = 0;
        for (int i = 0; i < n; i++)
        {
            double z = Math.Log(y[i] - m);
            su += u[i]; sz += z; suu += u[i] * u[i]; suz += u[i] * z;
        }
        double den = n * suu - su * su;
        double alpha = den > 0 ? (n * suz - su * sz) / den : 0, a = (sz - alpha * su) / n;
        double rss = Rss(u, y, m, a, alpha), mu = 1e-3;
        for (int it = 0; it < 200; it++)
        {
            // Normal equations of the linearised residuals r = y − m − e, ∂r/∂a = −e, ∂r/∂α = −u·e.
            double jaa = 0, jab = 0, jbb = 0, ga = 0, gb = 0;
            for (int i = 0; i < n; i++)
            {
                double e = Math.Exp(a + alpha * u[i]), r = y[i] - m - e;
                jaa += e * e; jab += u[i] * e * e; jbb += u[i] * u[i] * e * e;
                ga += e * r; gb += u[i] * e * r;
            }
            if (Math.Sqrt(ga * ga + gb * gb) <= 1e-14 * Math.Max(1, Math.Sqrt(jaa))) return new Inner(a, alpha, rss, true);
            bool improved = false;
            while (mu < 1e12)
            {
                double haa = jaa * (1 + mu), hbb = jbb * (1 + mu), det = haa * hbb - jab * jab;
                double da = (hbb * ga - jab * gb) / det, db = (haa * gb - jab * ga) / det;
                double next = Rss(u, y, m, a + da, alpha + db);
                if (double.IsFinite(next) && next <= rss)
                {
                    double change = rss - next;
                    (a, alpha) = (a + da, alpha + db);
                    rss = next;
                    mu = Math.Max(mu / 10, 1e-12);
                    improved = true;
                    if (change <= 1e-15 * Math.Max(rss, 1e-300) || Math.Abs(da) + Math.Abs(db) <= 1e-12 * (1 + Math.Abs(a) + Math.Abs(alpha)))
                        return new Inner(a, alpha, rss, true);
                    break;
                }
                mu *= 10;
            }
            if (!improved) return new Inner(a, alpha, rss, double.IsFinite(rss)); // no step lowers the RSS: a minimum to float precision
        }
        return new Inner(a, alpha, rss, false);
    }

    private static double Rss(double[] u, double[] y, double m, double a, double alpha)
    {
        double s = 0;
        for (int i = 0; i < u.Length; i++) { double r = y[i] - m - Math.Exp(a + alpha * u[i]); s += r * r; }
        return s;
    }
}
