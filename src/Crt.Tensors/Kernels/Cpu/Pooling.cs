namespace Crt.Tensors.Kernels.Cpu;

/// <summary>Pooling kernels over planes (one plane per (n, c)), parallel over planes.</summary>
public static class Pooling
{
    public static void MaxForward(ReadOnlySpan<float> x, int planes, int h, int w, int k, int s, int ho, int wo, Span<float> y, int[] argmax)
    {
        for (int p = 0; p < planes; p++)
        {
            var src = x.Slice(p * h * w, h * w);
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                {
                    float best = float.NegativeInfinity;
                    int at = (oy * s) * w + ox * s;
                    for (int dy = 0; dy < k; dy++)
                        for (int dx = 0; dx < k; dx++)
                        {
                            int i = (oy * s + dy) * w + ox * s + dx;
                            float v = src[i];
                            if (v > best || float.IsNaN(v)) { best = v; at = i; if (float.IsNaN(v)) goto done; }
                        }
                    done:
                    int o = (p * ho + oy) * wo + ox;
                    y[o] = best;
                    argmax[o] = at;
                }
        }
    }

    public static void MaxBackward(ReadOnlySpan<float> g, int[] argmax, int planes, int planeIn, int planeOut, Span<float> dx)
    {
        for (int p = 0; p < planes; p++)
            for (int o = 0; o < planeOut; o++)
                dx[p * planeIn + argmax[p * planeOut + o]] += g[p * planeOut + o];
    }

    public static void AvgForward(ReadOnlySpan<float> x, int planes, int h, int w, int k, int s, int ho, int wo, Span<float> y)
    {
        float inv = 1f / (k * k);
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                {
                    float sum = 0;
                    for (int dy = 0; dy < k; dy++)
                        for (int dx = 0; dx < k; dx++) sum += x[p * h * w + (oy * s + dy) * w + ox * s + dx];
                    y[(p * ho + oy) * wo + ox] = sum * inv;
                }
    }

    public static void AvgBackward(ReadOnlySpan<float> g, int planes, int h, int w, int k, int s, int ho, int wo, Span<float> dx)
    {
        float inv = 1f / (k * k);
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                {
                    float v = g[(p * ho + oy) * wo + ox] * inv;
                    for (int dy = 0; dy < k; dy++)
                        for (int dx2 = 0; dx2 < k; dx2++) dx[p * h * w + (oy * s + dy) * w + ox * s + dx2] += v;
                }
    }
}
