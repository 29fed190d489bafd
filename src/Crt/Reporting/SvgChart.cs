using System.Globalization;
using System.Net;
using System.Text;

namespace Crt.Reporting;

/// <summary>A line/point chart as a self-contained SVG string: several named series, linear or log axes, ticks and a legend.</summary>
public sealed class SvgChart
{
    public string Title { get; init; } = "";
    public string XLabel { get; init; } = "";
    public string YLabel { get; init; } = "";
    public bool LogX { get; init; }
    public bool LogY { get; init; }
    public int Width { get; init; } = 640;
    public int Height { get; init; } = 360;

    private static readonly string[] Palette = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf" };
    private readonly List<(string Name, double[] X, double[] Y, bool Points, bool Dashed, int Color, bool Legend)> _series = new();

    /// <summary>
    /// Adds a series: a line, or points; <paramref name="color"/> picks a palette entry (default: the
    /// series' own), so a set of points and its fitted curve can share one colour and one legend entry
    /// (<paramref name="legend"/> false on the second).
    /// </summary>
    public SvgChart Add(string name, IEnumerable<double> x, IEnumerable<double> y, bool points = false, bool dashed = false, int? color = null, bool legend = true)
    {
        var xs = x.ToArray(); var ys = y.ToArray();
        if (xs.Length != ys.Length) throw new ArgumentException($"chart series '{name}': {xs.Length} x values and {ys.Length} y values");
        _series.Add((name, xs, ys, points, dashed, color ?? _series.Count, legend));
        return this;
    }

    public string Render()
    {
        const int left = 64, right = 16, top = 32, bottom = 48;
        int pw = Width - left - right, ph = Height - top - bottom;
        var pts = _series.SelectMany(s => s.X.Zip(s.Y)).Where(p => Usable(p.First, LogX) && Usable(p.Second, LogY)).ToList();
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"11\">");
        sb.Append(CultureInfo.InvariantCulture, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">{Esc(Title)}</text>");
        if (pts.Count == 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"{Height / 2}\" text-anchor=\"middle\">no data</text></svg>");
            return sb.ToString();
        }
        var (x0, x1) = Range(pts.Select(p => T(p.First, LogX)));
        var (y0, y1) = Range(pts.Select(p => T(p.Second, LogY)));
        double Sx(double v) => left + (T(v, LogX) - x0) / (x1 - x0) * pw;
        double Sy(double v) => top + ph - (T(v, LogY) - y0) / (y1 - y0) * ph;
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#999\"/>");
        foreach (var t in Ticks(x0, x1, LogX))
        {
            double sx = left + (T(t, LogX) - x0) / (x1 - x0) * pw;
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{sx:F1}\" y1=\"{top}\" x2=\"{sx:F1}\" y2=\"{top + ph}\" stroke=\"#eee\"/><text x=\"{sx:F1}\" y=\"{top + ph + 14}\" text-anchor=\"middle\">{Fmt(t)}</text>");
        }
        foreach (var t in Ticks(y0, y1, LogY))
        {
            double sy = top + ph - (T(t, LogY) - y0) / (y1 - y0) * ph;
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{sy:F1}\" x2=\"{left + pw}\" y2=\"{sy:F1}\" stroke=\"#eee\"/><text x=\"{left - 4}\" y=\"{sy + 4:F1}\" text-anchor=\"end\">{Fmt(t)}</text>");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + pw / 2}\" y=\"{Height - 10}\" text-anchor=\"middle\">{Esc(XLabel)}{(LogX ? " (log)" : "")}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate(14,{top + ph / 2}) rotate(-90)\" text-anchor=\"middle\">{Esc(YLabel)}{(LogY ? " (log)" : "")}</text>");
        int legendRow = 0;
        for (int i = 0; i < _series.Count; i++)
        {
            var (name, xs, ys, points, dashed, colorIndex, legend) = _series[i];
            string color = Palette[colorIndex % Palette.Length];
            var valid = xs.Zip(ys).Where(p => Usable(p.First, LogX) && Usable(p.Second, LogY)).ToList();
            if (points || valid.Count == 1) // a lone point has no line to draw
                foreach (var (x, y) in valid) sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{Sx(x):F1}\" cy=\"{Sy(y):F1}\" r=\"3\" fill=\"{color}\"/>");
            else if (valid.Count > 0)
                sb.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\"{(dashed ? " stroke-dasharray=\"5,3\"" : "")} points=\"{string.Join(" ", valid.Select(p => string.Create(CultureInfo.InvariantCulture, $"{Sx(p.First):F1},{Sy(p.Second):F1}")))}\"/>");
            if (!legend) continue;
            int ly = top + 8 + 14 * legendRow++;
            sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left + pw - 150}\" y=\"{ly - 8}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{left + pw - 136}\" y=\"{ly + 1}\">{Esc(name)}</text>");
        }
        sb.Append("</svg>");
        return sb.ToString();
    }

    private static bool Usable(double v, bool log) => double.IsFinite(v) && (!log || v > 0);
    private static double T(double v, bool log) => log ? Math.Log10(v) : v;

    private static (double, double) Range(IEnumerable<double> values)
    {
        double lo = values.Min(), hi = values.Max();
        if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
        double pad = (hi - lo) * 0.04;
        return (lo - pad, hi + pad);
    }

    private static IEnumerable<double> Ticks(double t0, double t1, bool log)
    {
        if (log)
        {
            // Powers of ten; over less than two decades also 2× and 5× (and then every multiple), so a narrow range still gets labels.
            foreach (var mantissas in new[] { new[] { 1.0 }, new[] { 1.0, 2, 5 }, new[] { 1.0, 2, 3, 4, 5, 6, 7, 8, 9 } })
            {
                var ticks = new List<double>();
                for (int e = (int)Math.Floor(t0); e <= (int)Math.Ceiling(t1); e++)
                    foreach (var m in mantissas)
                        if (Math.Log10(m) + e is var t && t >= t0 && t <= t1) ticks.Add(m * Math.Pow(10, e));
                if (ticks.Count >= 3)
                {
                    foreach (var t in ticks) yield return t;
                    yield break;
                }
            }
            // Less than a factor of ~3 end to end: evenly spaced values, placed on the log axis.
            foreach (var t in Ticks(Math.Pow(10, t0), Math.Pow(10, t1), log: false)) if (t > 0) yield return t;
            yield break;
        }
        double span = t1 - t0, step = Math.Pow(10, Math.Floor(Math.Log10(span / 5)));
        if (span / step > 10) step *= 2;
        if (span / step > 10) step *= 2.5;
        for (double v = Math.Ceiling(t0 / step) * step; v <= t1; v += step) yield return Math.Abs(v) < step * 1e-9 ? 0 : v;
    }

    private static string Fmt(double v) => Math.Abs(v) >= 1e4 || (Math.Abs(v) < 1e-2 && v != 0)
        ? v.ToString("0.#E+0", CultureInfo.InvariantCulture) : v.ToString("G4", CultureInfo.InvariantCulture);

    private static string Esc(string s) => WebUtility.HtmlEncode(s);
}
