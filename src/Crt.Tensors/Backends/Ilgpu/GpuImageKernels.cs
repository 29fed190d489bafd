using ILGPU;
using ILGPU.Algorithms;

namespace Crt.Tensors.Backends.Ilgpu;

/// <summary>
/// Geometry of a per-plane image kernel: input planes [H, W], output planes [Ho, Wo], and the parameters of whichever
/// op it is (pooling window, padding offsets and fill value). The plane count follows from the launch's element count.
/// </summary>
internal struct ImageShape
{
    public int H, W, Ho, Wo, Kernel, Stride, Pad, Top, Left, CountIncludePad;
    public float Value;
}

/// <summary>
/// Padding, nearest upsampling, pooling and bilinear resizing for the GPU backend, with the CPU kernels' semantics
/// (<c>Kernels/Cpu/Conv2dKernels.cs</c>, <c>Pooling.cs</c>, <c>BilinearResize.cs</c>). Each backward runs one thread per
/// input element that gathers every output it contributed to, in the CPU's order, instead of scattering with atomics:
/// deterministic, and for max and average pooling bit-identical to the CPU.
/// </summary>
internal static class GpuImageKernels
{
    /// <summary>y[p, oy, ox] = x[p, oy − Top, ox − Left] inside x, else Value (negative offsets crop).</summary>
    public static void Pad2d(Index1D t, ArrayView<float> x, ArrayView<float> y, ImageShape s, Launch p)
    {
        int plane = s.Ho * s.Wo;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int pl = idx / plane, r = idx % plane, iy = r / s.Wo - s.Top, ix = r % s.Wo - s.Left;
            y[idx] = (uint)iy < (uint)s.H && (uint)ix < (uint)s.W ? x[((long)pl * s.H + iy) * s.W + ix] : s.Value;
        }
    }

    /// <summary>y [planes, 2H, 2W] = nearest ×2 of x (one thread per output element).</summary>
    public static void Upsample2x(Index1D t, ArrayView<float> x, ArrayView<float> y, ImageShape s, Launch p)
    {
        int w2 = 2 * s.W;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int ox = idx % w2, rest = idx / w2; // rest = plane·2H + oy
            y[idx] = x[(long)(rest / 2) * s.W + ox / 2];
        }
    }

    /// <summary>dx [planes, H, W] = the 2×2 block sums of g, added in the CPU kernel's order (one thread per dx element).</summary>
    public static void Upsample2xBackward(Index1D t, ArrayView<float> g, ArrayView<float> dx, ImageShape s, Launch p)
    {
        int w2 = 2 * s.W;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int ix = idx % s.W, row = idx / s.W; // row = plane·H + iy
            long g0 = (long)row * 2 * w2 + 2 * ix, g1 = g0 + w2;
            dx[idx] = (g[g0] + g[g1]) + (g[g0 + 1] + g[g1 + 1]);
        }
    }

    /// <summary>The first window index whose window [o·stride − pad, o·stride − pad + kernel) reaches i: ⌊(i + pad − kernel)/stride⌋ + 1, at least 0.</summary>
    private static int FirstWindow(int i, ImageShape s)
    {
        int a = i + s.Pad - s.Kernel;
        return a < 0 ? 0 : a / s.Stride + 1;
    }

    /// <summary>Max over each window clipped to the image (NaN wins, first maximum on ties); arg = the winner's index in its plane.</summary>
    public static void MaxPool(Index1D t, ArrayView<float> x, ArrayView<float> y, ArrayView<int> arg, ImageShape s, Launch p)
    {
        int plane = s.Ho * s.Wo;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int pl = idx / plane, r = idx % plane, oy = r / s.Wo, ox = r % s.Wo;
            var (y0, y1, x0, x1) = Window(oy, ox, s);
            long src = (long)pl * s.H * s.W;
            float best = float.NegativeInfinity;
            int at = y0 * s.W + x0;
            bool nan = false;
            for (int iy = y0; iy < y1 && !nan; iy++)
                for (int ix = x0; ix < x1; ix++)
                {
                    int i = iy * s.W + ix;
                    float v = x[src + i];
                    if (v > best || XMath.IsNaN(v))
                    {
                        best = v; at = i;
                        if (XMath.IsNaN(v)) { nan = true; break; }
                    }
                }
            y[idx] = best;
            arg[idx] = at;
        }
    }

    /// <summary>dx[p, i] += Σ g over the windows whose argmax is i, windows in order (one thread per dx element).</summary>
    public static void MaxPoolBackward(Index1D t, ArrayView<float> g, ArrayView<int> arg, ArrayView<float> dx, ImageShape s, Launch p)
    {
        int plane = s.H * s.W;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int pl = idx / plane, i = idx % plane, iy = i / s.W, ix = i % s.W;
            var (oy0, oy1, ox0, ox1) = CoveringWindows(iy, ix, s);
            long o = (long)pl * s.Ho * s.Wo;
            float sum = 0f;
            for (int oy = oy0; oy <= oy1; oy++)
                for (int ox = ox0; ox <= ox1; ox++)
                {
                    long e = o + oy * s.Wo + ox;
                    if (arg[e] == i) sum += g[e];
                }
            dx[idx] += sum;
        }
    }

    /// <summary>The output windows [oy0, oy1] × [ox0, ox1] (inclusive) whose input area covers pixel (iy, ix).</summary>
    private static (int Oy0, int Oy1, int Ox0, int Ox1) CoveringWindows(int iy, int ix, ImageShape s)
    {
        int oy1 = (iy + s.Pad) / s.Stride, ox1 = (ix + s.Pad) / s.Stride;
        return (FirstWindow(iy, s), oy1 >= s.Ho ? s.Ho - 1 : oy1, FirstWindow(ix, s), ox1 >= s.Wo ? s.Wo - 1 : ox1);
    }

    /// <summary>The divisor of window (oy, ox): Kernel² with CountIncludePad, else the pixels of the window inside the image.</summary>
    private static float Divisor(int oy, int ox, ImageShape s)
    {
        if (s.CountIncludePad != 0) return s.Kernel * s.Kernel;
        var (y0, y1, x0, x1) = Window(oy, ox, s);
        return (y1 - y0) * (x1 - x0);
    }

    /// <summary>Rows [y0, y1) and columns [x0, x1) of output window (oy, ox), clipped to the image.</summary>
    private static (int Y0, int Y1, int X0, int X1) Window(int oy, int ox, ImageShape s)
    {
        int y0 = oy * s.Stride - s.Pad, x0 = ox * s.Stride - s.Pad;
        int y1 = y0 + s.Kernel < s.H ? y0 + s.Kernel : s.H, x1 = x0 + s.Kernel < s.W ? x0 + s.Kernel : s.W;
        return (y0 < 0 ? 0 : y0, y1, x0 < 0 ? 0 : x0, x1);
    }

    /// <summary>The mean of each window clipped to the image (see <see cref="Divisor"/>).</summary>
    public static void AvgPool(Index1D t, ArrayView<float> x, ArrayView<float> y, ImageShape s, Launch p)
    {
        int plane = s.Ho * s.Wo;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int pl = idx / plane, r = idx % plane, oy = r / s.Wo, ox = r % s.Wo;
            var (y0, y1, x0, x1) = Window(oy, ox, s);
            long src = (long)pl * s.H * s.W;
            float sum = 0f;
            for (int iy = y0; iy < y1; iy++)
                for (int ix = x0; ix < x1; ix++) sum += x[src + iy * s.W + ix];
            y[idx] = sum / Divisor(oy, ox, s);
        }
    }

    /// <summary>dx[p, iy, ix] += Σ g/divisor over the windows covering the pixel, in window order (one thread per dx element).</summary>
    public static void AvgPoolBackward(Index1D t, ArrayView<float> g, ArrayView<float> dx, ImageShape s, Launch p)
    {
        int plane = s.H * s.W;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int pl = idx / plane, i = idx % plane, iy = i / s.W, ix = i % s.W;
            var (oy0, oy1, ox0, ox1) = CoveringWindows(iy, ix, s);
            long o = (long)pl * s.Ho * s.Wo;
            float v = dx[idx];
            for (int oy = oy0; oy <= oy1; oy++)
                for (int ox = ox0; ox <= ox1; ox++) v += g[o + oy * s.Wo + ox] / Divisor(oy, ox, s);
            dx[idx] = v;
        }
    }

    /// <summary>
    /// Bilinear resampling: y[p, oy, ox] mixes the four taps of the row and column tables. taps holds the ints
    /// [row I0 (Ho), row I1 (Ho), col I0 (Wo), col I1 (Wo)] and weights the floats [row W0, row W1, col W0, col W1].
    /// </summary>
    public static void ResizeBilinear(Index1D t, ArrayView<float> x, ArrayView<int> taps, ArrayView<float> weights, ArrayView<float> y,
        ImageShape s, Launch p)
    {
        int plane = s.Ho * s.Wo, c0 = 2 * s.Ho, c1 = 2 * s.Ho + s.Wo;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int pl = idx / plane, r = idx % plane, oy = r / s.Wo, ox = r % s.Wo;
            long src = (long)pl * s.H * s.W;
            long r0 = src + (long)taps[oy] * s.W, r1 = src + (long)taps[s.Ho + oy] * s.W;
            int a = taps[c0 + ox], b = taps[c1 + ox];
            float wy0 = weights[oy], wy1 = weights[s.Ho + oy], wx0 = weights[c0 + ox], wx1 = weights[c1 + ox];
            y[idx] = wy0 * (wx0 * x[r0 + a] + wx1 * x[r0 + b]) + wy1 * (wx0 * x[r1 + a] + wx1 * x[r1 + b]);
        }
    }

    /// <summary>
    /// The transpose of <see cref="ResizeBilinear"/>, one thread per dx element (overwritten). The tap tables are
    /// inverted on the host: for input row iy, the outputs reading it are rows[starts..] of (output index, weight),
    /// <c>taps</c> = [row starts (H + 1), row outputs (2·Ho), col starts (W + 1), col outputs (2·Wo)] and
    /// <c>weights</c> = [row weights (2·Ho), col weights (2·Wo)].
    /// </summary>
    public static void ResizeBilinearBackward(Index1D t, ArrayView<float> g, ArrayView<int> taps, ArrayView<float> weights, ArrayView<float> dx,
        ImageShape s, Launch p)
    {
        int plane = s.H * s.W, rowOut = s.H + 1, colStart = rowOut + 2 * s.Ho, colOut = colStart + s.W + 1;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int pl = idx / plane, i = idx % plane, iy = i / s.W, ix = i % s.W;
            long o = (long)pl * s.Ho * s.Wo;
            int ca = taps[colStart + ix], cb = taps[colStart + ix + 1];
            float sum = 0f;
            for (int ry = taps[iy]; ry < taps[iy + 1]; ry++)
            {
                long row = o + (long)taps[rowOut + ry] * s.Wo;
                float wy = weights[ry], part = 0f;
                for (int cx = ca; cx < cb; cx++) part += weights[2 * s.Ho + cx] * g[row + taps[colOut + cx]];
                sum += wy * part;
            }
            dx[idx] = sum;
        }
    }
}
