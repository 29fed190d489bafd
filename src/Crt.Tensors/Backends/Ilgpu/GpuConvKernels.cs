using Crt.Tensors.Kernels.Cpu;
using ILGPU;

namespace Crt.Tensors.Backends.Ilgpu;

/// <summary>
/// A convolution's geometry (<see cref="ConvGeom"/>) as an unmanaged kernel parameter, plus the chunk of images a launch
/// covers: images [N0, N0 + Nc). The column matrix of a chunk is [K, Nc, P] (K = Cin·Kh·Kw rows, one P-long block per
/// image in each row), so one GEMM with depth Nc·P gives the weight gradient of the whole chunk.
/// </summary>
internal struct ConvShape
{
    public int N0, Nc, Cin, H, W, Cout, Kh, Kw, Stride, PadTop, PadLeft, Ho, Wo;

    public static ConvShape From(in ConvGeom g, int n0, int nc) => new()
    {
        N0 = n0, Nc = nc, Cin = g.Cin, H = g.H, W = g.W, Cout = g.Cout, Kh = g.Kh, Kw = g.Kw,
        Stride = g.Stride, PadTop = g.PadTop, PadLeft = g.PadLeft, Ho = g.Ho, Wo = g.Wo,
    };
}

/// <summary>
/// The data movement around the GEMMs that a convolution is lowered onto (<see cref="IlgpuKernelTable"/>'s Conv2d):
/// im2col, its adjoint col2im, the transposition of the output gradient into GEMM layout, the bias. Every kernel
/// writes each output element from one thread (col2im gathers an input pixel's contributions instead of scattering
/// them), so no float atomics are needed and results are deterministic.
/// </summary>
internal static class GpuConvKernels
{
    /// <summary>col[k, n, p] = the input pixel under kernel tap k for output pixel p of image N0 + n (0 in the padding).</summary>
    public static void Im2Col(Index1D t, ArrayView<float> x, ArrayView<float> col, ConvShape c, Launch p)
    {
        int pixels = c.Ho * c.Wo, khw = c.Kh * c.Kw;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int px = idx % pixels, rest = idx / pixels, n = rest % c.Nc, k = rest / c.Nc;
            int ch = k / khw, i = k / c.Kw % c.Kh, j = k % c.Kw;
            int ih = px / c.Wo * c.Stride + i - c.PadTop, iw = px % c.Wo * c.Stride + j - c.PadLeft;
            col[idx] = (uint)ih < (uint)c.H && (uint)iw < (uint)c.W
                ? x[(((long)(c.N0 + n) * c.Cin + ch) * c.H + ih) * c.W + iw]
                : 0f;
        }
    }

    /// <summary>
    /// dx[N0 + n, ch, ih, iw] = Σ over the taps (i, j) whose output pixel (oh, ow) reads this input pixel of
    /// dcol[(ch, i, j), n, (oh, ow)]: the adjoint of <see cref="Im2Col"/>, gathered per input pixel (written, not added).
    /// </summary>
    public static void Col2Im(Index1D t, ArrayView<float> dcol, ArrayView<float> dx, ConvShape c, Launch p)
    {
        int pixels = c.Ho * c.Wo, cols = c.Nc * pixels;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int iw = idx % c.W, rest = idx / c.W, ih = rest % c.H;
            rest /= c.H;
            int ch = rest % c.Cin, n = rest / c.Cin;
            float s = 0f;
            for (int i = 0; i < c.Kh; i++)
            {
                int ty = ih + c.PadTop - i;
                if (ty < 0 || ty % c.Stride != 0 || ty / c.Stride >= c.Ho) continue;
                int oh = ty / c.Stride;
                for (int j = 0; j < c.Kw; j++)
                {
                    int tx = iw + c.PadLeft - j;
                    if (tx < 0 || tx % c.Stride != 0 || tx / c.Stride >= c.Wo) continue;
                    int k = (ch * c.Kh + i) * c.Kw + j;
                    s += dcol[(long)k * cols + (long)n * pixels + oh * c.Wo + tx / c.Stride];
                }
            }
            dx[(long)c.N0 * c.Cin * c.H * c.W + idx] = s;
        }
    }

    /// <summary>gt[co, n, p] = g[N0 + n, co, p]: the chunk's output gradient as one [Cout, Nc·P] matrix.</summary>
    public static void GradToColumns(Index1D t, ArrayView<float> g, ArrayView<float> gt, ConvShape c, Launch p)
    {
        int pixels = c.Ho * c.Wo;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int px = idx % pixels, rest = idx / pixels, n = rest % c.Nc, co = rest / c.Nc;
            gt[idx] = g[((long)(c.N0 + n) * c.Cout + co) * pixels + px];
        }
    }

    /// <summary>y[n, ch, p] += bias[ch] over y viewed as [n, c, s] (I0 = c, I1 = s).</summary>
    public static void AddChannelBias(Index1D t, ArrayView<float> y, ArrayView<float> bias, Launch p)
    {
        for (int idx = t; idx < p.N; idx += p.Threads) y[idx] += bias[idx / p.I1 % p.I0];
    }

    /// <summary>y[ch] = Σ_n Σ_s x[n, ch, s] in double, one thread per channel (N = c, I0 = n, I1 = s): a bias gradient.</summary>
    public static void ChannelSums(Index1D t, ArrayView<float> x, ArrayView<float> y, Launch p)
    {
        int c = p.N, n = p.I0, s = p.I1;
        for (int ch = t; ch < c; ch += p.Threads)
        {
            double sum = 0;
            for (int ni = 0; ni < n; ni++)
            {
                long at = ((long)ni * c + ch) * s;
                for (int j = 0; j < s; j++) sum += x[at + j];
            }
            y[ch] = (float)sum;
        }
    }
}
