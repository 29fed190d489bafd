namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Pooling kernels over planes (one plane per (n, c)), parallel over planes. Windows start at
/// oy·s − pad and are clipped to the image: implicit padding never wins a max (PyTorch pads with −∞)
/// and adds zeros to an average, which <c>countIncludePad</c> decides whether to count.
/// </summary>
public static unsafe class Pooling
{
    /// <summary>The part [start, end) of the window starting at <paramref name="origin"/> that lies inside [0, size).</summary>
    private static (int Start, int End) Clip(int origin, int k, int size) => (Math.Max(origin, 0), Math.Min(origin + k, size));

    public static void MaxForward(ReadOnlySpan<float> x, int planes, int h, int w, int k, int s, int pad, int ho, int wo, Span<float> y, int[] argmax)
    {
        fixed (float* px = x, py = y)
        {
            nint X = (nint)px, Y = (nint)py;
            Par.For(planes, (long)ho * wo * k * k, p =>
            {
                float* src = (float*)X + (long)p * h * w;
                float* dst = (float*)Y + (long)p * ho * wo;
                for (int oy = 0; oy < ho; oy++)
                {
                    var (y0, y1) = Clip(oy * s - pad, k, h);
                    for (int ox = 0; ox < wo; ox++)
                    {
                        var (x0, x1) = Clip(ox * s - pad, k, w);
                        float best = float.NegativeInfinity;
                        int at = y0 * w + x0;
                        for (int iy = y0; iy < y1; iy++)
                            for (int ix = x0; ix < x1; ix++)
                            {
                                int i = iy * w + ix;
                                float v = src[i];
                                if (v > best || float.IsNaN(v)) { best = v; at = i; if (float.IsNaN(v)) goto done; }
                            }
                        done:
                        int o = oy * wo + ox;
                        dst[o] = best;
                        argmax[p * ho * wo + o] = at;
                    }
                }
            });
        }
    }

    public static void MaxBackward(ReadOnlySpan<float> g, int[] argmax, int planes, int planeIn, int planeOut, Span<float> dx)
    {
        for (int p = 0; p < planes; p++)
            for (int o = 0; o < planeOut; o++)
                dx[p * planeIn + argmax[p * planeOut + o]] += g[p * planeOut + o];
    }

    /// <summary>Divisor of a window: k² with <paramref name="countIncludePad"/> (floor-mode windows never leave the padded image), else the pixels inside.</summary>
    private static float Divisor(int y0, int y1, int x0, int x1, int k, bool countIncludePad) =>
        countIncludePad ? k * k : (y1 - y0) * (x1 - x0);

    public static void AvgForward(ReadOnlySpan<float> x, int planes, int h, int w, int k, int s, int pad, bool countIncludePad,
        int ho, int wo, Span<float> y)
    {
        fixed (float* px = x, py = y)
        {
            nint X = (nint)px, Y = (nint)py;
            Par.For(planes, (long)ho * wo * k * k, p =>
            {
                float* src = (float*)X + (long)p * h * w;
                float* dst = (float*)Y + (long)p * ho * wo;
                for (int oy = 0; oy < ho; oy++)
                {
                    var (y0, y1) = Clip(oy * s - pad, k, h);
                    for (int ox = 0; ox < wo; ox++)
                    {
                        var (x0, x1) = Clip(ox * s - pad, k, w);
                        float sum = 0;
                        for (int iy = y0; iy < y1; iy++)
                            for (int ix = x0; ix < x1; ix++) sum += src[iy * w + ix];
                        dst[oy * wo + ox] = sum / Divisor(y0, y1, x0, x1, k, countIncludePad);
                    }
                }
            });
        }
    }

    public static void AvgBackward(ReadOnlySpan<float> g, int planes, int h, int w, int k, int s, int pad, bool countIncludePad,
        int ho, int wo, Span<float> dx)
    {
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < ho; oy++)
            {
                var (y0, y1) = Clip(oy * s - pad, k, h);
                for (int ox = 0; ox < wo; ox++)
                {
                    var (x0, x1) = Clip(ox * s - pad, k, w);
                    float v = g[(p * ho + oy) * wo + ox] / Divisor(y0, y1, x0, x1, k, countIncludePad);
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) dx[p * h * w + iy * w + ix] += v;
                }
            }
    }
}
