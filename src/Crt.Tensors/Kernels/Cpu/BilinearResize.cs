namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Bilinear resampling of planes with PyTorch's align_corners=False geometry (half-pixel centres, no
/// antialiasing). Each output row/column reads two input rows/columns with weights that depend only on
/// its index, so they are computed once per axis; forward and backward use the same taps.
/// </summary>
public static unsafe class BilinearResize
{
    /// <summary>Per output index: first and second input index and their weights.</summary>
    public readonly record struct Taps(int[] I0, int[] I1, float[] W0, float[] W1);

    /// <summary>
    /// As ATen's area_pixel_compute_source_index / guard_index_and_lambda: source = (dst + ½)·(in/out) − ½
    /// in float, clamped at 0; the second tap is the next index unless the first is the last.
    /// </summary>
    public static Taps Compute(int inSize, int outSize)
    {
        var t = new Taps(new int[outSize], new int[outSize], new float[outSize], new float[outSize]);
        float scale = (float)inSize / outSize;
        for (int o = 0; o < outSize; o++)
        {
            float src = Math.Max(scale * (o + 0.5f) - 0.5f, 0f);
            int i0 = Math.Min((int)src, inSize - 1);
            float lambda = Math.Clamp(src - i0, 0f, 1f);
            t.I0[o] = i0;
            t.I1[o] = i0 < inSize - 1 ? i0 + 1 : i0;
            t.W0[o] = 1f - lambda;
            t.W1[o] = lambda;
        }
        return t;
    }

    public static void Forward(ReadOnlySpan<float> x, int planes, int h, int w, Taps rows, Taps cols, Span<float> y)
    {
        int ho = rows.I0.Length, wo = cols.I0.Length;
        fixed (float* px = x, py = y)
        {
            nint X = (nint)px, Y = (nint)py;
            Par.For(planes, 4L * ho * wo, p =>
            {
                float* src = (float*)X + (long)p * h * w;
                float* dst = (float*)Y + (long)p * ho * wo;
                for (int oy = 0; oy < ho; oy++)
                {
                    float* r0 = src + rows.I0[oy] * w, r1 = src + rows.I1[oy] * w;
                    float wy0 = rows.W0[oy], wy1 = rows.W1[oy];
                    for (int ox = 0; ox < wo; ox++)
                    {
                        int a = cols.I0[ox], b = cols.I1[ox];
                        float wx0 = cols.W0[ox], wx1 = cols.W1[ox];
                        dst[oy * wo + ox] = wy0 * (wx0 * r0[a] + wx1 * r0[b]) + wy1 * (wx0 * r1[a] + wx1 * r1[b]);
                    }
                }
            });
        }
    }

    /// <summary>dx (overwritten) = the transpose of <see cref="Forward"/> applied to the output gradient g.</summary>
    public static void Backward(ReadOnlySpan<float> g, int planes, int h, int w, Taps rows, Taps cols, Span<float> dx)
    {
        int ho = rows.I0.Length, wo = cols.I0.Length;
        dx.Clear();
        for (int p = 0; p < planes; p++)
        {
            var go = g.Slice(p * ho * wo, ho * wo);
            var d = dx.Slice(p * h * w, h * w);
            for (int oy = 0; oy < ho; oy++)
            {
                int r0 = rows.I0[oy] * w, r1 = rows.I1[oy] * w;
                float wy0 = rows.W0[oy], wy1 = rows.W1[oy];
                for (int ox = 0; ox < wo; ox++)
                {
                    float v = go[oy * wo + ox];
                    int a = cols.I0[ox], b = cols.I1[ox];
                    float wx0 = cols.W0[ox], wx1 = cols.W1[ox];
                    d[r0 + a] += wy0 * wx0 * v; d[r0 + b] += wy0 * wx1 * v;
                    d[r1 + a] += wy1 * wx0 * v; d[r1 + b] += wy1 * wx1 * v;
                }
            }
        }
    }
}
