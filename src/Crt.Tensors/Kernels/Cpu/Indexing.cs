namespace Crt.Tensors.Kernels.Cpu;

/// <summary>Row gathers/scatters, dropout masks and L2 normalisation along an axis.</summary>
public static class Indexing
{
    /// <summary>y[i, :] = table[indices[i], :] for rows of width <paramref name="d"/>.</summary>
    public static void GatherRows(ReadOnlySpan<float> table, int d, int[] indices, Span<float> y)
    {
        for (int i = 0; i < indices.Length; i++) table.Slice(indices[i] * d, d).CopyTo(y.Slice(i * d, d));
    }

    /// <summary>table[indices[i], :] += g[i, :] (repeated indices accumulate).</summary>
    public static void ScatterAddRows(ReadOnlySpan<float> g, int d, int[] indices, Span<float> table)
    {
        for (int i = 0; i < indices.Length; i++) Elementwise.AddInPlace(table.Slice(indices[i] * d, d), g.Slice(i * d, d));
    }

    /// <summary>Each entry is 0 with probability p, else 1/(1−p) (p = 1 gives all zeros).</summary>
    public static void DropoutMask(Span<float> mask, float p, Rng rng)
    {
        float keep = p >= 1f ? 0f : 1f / (1f - p);
        rng.FillBelow(mask, p, 0f, keep);
    }

    /// <summary>
    /// Views x as [outer, n, inner] and divides each length-n vector by max(‖v‖₂, eps), which is stored
    /// in <paramref name="norms"/> ([outer·inner]) for the backward.
    /// </summary>
    public static void L2NormalizeForward(ReadOnlySpan<float> x, int outer, int n, int inner, float eps, Span<float> norms, Span<float> y)
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int b = o * n * inner + i;
                double ss = 0;
                for (int j = 0; j < n; j++) { double v = x[b + j * inner]; ss += v * v; }
                float s = (float)Math.Max(Math.Sqrt(ss), eps);
                norms[o * inner + i] = s;
                float inv = 1f / s;
                for (int j = 0; j < n; j++) y[b + j * inner] = x[b + j * inner] * inv;
            }
    }

    /// <summary>
    /// dx = (g − y·⟨g, y⟩) / ‖x‖ where the norm exceeded eps; dx = g / eps where it was clamped
    /// (the clamp passes no gradient to the norm, as torch's clamp_min).
    /// </summary>
    public static void L2NormalizeBackward(ReadOnlySpan<float> g, ReadOnlySpan<float> y, ReadOnlySpan<float> x, int outer, int n, int inner,
        float eps, ReadOnlySpan<float> norms, Span<float> dx)
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int b = o * n * inner + i;
                float s = norms[o * inner + i];
                float inv = 1f / s;
                double ss = 0;
                for (int j = 0; j < n; j++) { double v = x[b + j * inner]; ss += v * v; }
                if (Math.Sqrt(ss) < eps)
                {
                    for (int j = 0; j < n; j++) dx[b + j * inner] = g[b + j * inner] * inv;
                    continue;
                }
                double dot = 0;
                for (int j = 0; j < n; j++) dot += (double)g[b + j * inner] * y[b + j * inner];
                float fd = (float)dot;
                for (int j = 0; j < n; j++) dx[b + j * inner] = (g[b + j * inner] - y[b + j * inner] * fd) * inv;
            }
    }
}
