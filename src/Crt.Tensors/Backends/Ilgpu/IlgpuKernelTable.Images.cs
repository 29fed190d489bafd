using Crt.Tensors.Kernels.Cpu;
using ILGPU;
using ILGPU.Runtime;

namespace Crt.Tensors.Backends.Ilgpu;

/// <summary>The ILGPU device's padding, nearest upsampling, pooling and bilinear resizing (kernels in <see cref="GpuImageKernels"/>).</summary>
internal sealed partial class IlgpuKernelTable
{
    public override void Pad2d(Tensor x, Tensor y, int planes, int h, int w, int ho, int wo, int top, int left, float value) =>
        ViewKernel(GpuImageKernels.Pad2d, x, y, new ImageShape { H = h, W = w, Ho = ho, Wo = wo, Top = top, Left = left, Value = value }, y.Size);

    public override void UpsampleNearest2x(Tensor x, Tensor y, int planes, int h, int w) =>
        ViewKernel(GpuImageKernels.Upsample2x, x, y, new ImageShape { H = h, W = w }, y.Size);

    public override void UpsampleNearest2xBackward(Tensor g, Tensor dx, int planes, int h, int w) =>
        ViewKernel(GpuImageKernels.Upsample2xBackward, g, dx, new ImageShape { H = h, W = w }, dx.Size);

    private static ImageShape Pool(int h, int w, int kernel, int stride, int padding, int ho, int wo, bool countIncludePad = false) =>
        new() { H = h, W = w, Ho = ho, Wo = wo, Kernel = kernel, Stride = stride, Pad = padding, CountIncludePad = countIncludePad ? 1 : 0 };

    /// <summary>What max-pool's backward needs: the argmax (an int tensor, index within the plane) and the window geometry.</summary>
    private sealed record MaxPoolSaved(Tensor Argmax, ImageShape Shape);

    public override object MaxPool(Tensor x, int planes, int h, int w, int kernel, int stride, int padding, int ho, int wo, Tensor y)
    {
        var s = Pool(h, w, kernel, stride, padding, ho, wo);
        var arg = Tensor.Empty(Dev, Math.Max(y.Size, 1));
        if (y.Size > 0)
        {
            var l = L(y.Size);
            Launcher(GpuImageKernels.MaxPool)(l.Threads, V(x), V(y), IntView(arg), s, l);
        }
        return new MaxPoolSaved(arg, s);
    }

    public override void MaxPoolBackward(object saved, Tensor g, int planes, int planeIn, int planeOut, Tensor dx)
    {
        var (arg, s) = (MaxPoolSaved)saved;
        if (dx.Size == 0 || g.Size == 0) return;
        var l = L(dx.Size);
        Launcher(GpuImageKernels.MaxPoolBackward)(l.Threads, V(g), IntView(arg), V(dx), s, l);
    }

    public override void AvgPool(Tensor x, int planes, int h, int w, int kernel, int stride, int padding, bool countIncludePad, int ho, int wo, Tensor y) =>
        ViewKernel(GpuImageKernels.AvgPool, x, y, Pool(h, w, kernel, stride, padding, ho, wo, countIncludePad), y.Size);

    public override void AvgPoolBackward(Tensor g, int planes, int h, int w, int kernel, int stride, int padding, bool countIncludePad, int ho, int wo, Tensor dx)
    {
        if (g.Size == 0) return;
        ViewKernel(GpuImageKernels.AvgPoolBackward, g, dx, Pool(h, w, kernel, stride, padding, ho, wo, countIncludePad), dx.Size);
    }

    private void ResizeKernel(string name, Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ImageShape, Launch> kernel,
        Tensor src, Tensor taps, Tensor weights, Tensor dst, ImageShape s)
    {
        if (dst.Size == 0) return;
        var l = L(dst.Size);
        Launcher(kernel)(l.Threads, V(src), IntView(taps), V(weights), V(dst), s, l);
    }

    public override void ResizeBilinear(Tensor x, int planes, int h, int w, BilinearResize.Taps rows, BilinearResize.Taps cols, Tensor y)
    {
        if (y.Size == 0) return;
        var taps = Ints([.. rows.I0, .. rows.I1, .. cols.I0, .. cols.I1]);
        var weights = Floats([.. rows.W0, .. rows.W1, .. cols.W0, .. cols.W1]);
        ResizeKernel("resize_bilinear", GpuImageKernels.ResizeBilinear, x, taps, weights, y,
            new ImageShape { H = h, W = w, Ho = rows.I0.Length, Wo = cols.I0.Length });
    }

    public override void ResizeBilinearBackward(Tensor g, int planes, int h, int w, BilinearResize.Taps rows, BilinearResize.Taps cols, Tensor dx)
    {
        if (dx.Size == 0) return;
        var (rowStarts, rowOut, rowW) = InvertTaps(rows, h);
        var (colStarts, colOut, colW) = InvertTaps(cols, w);
        var taps = Ints([.. rowStarts, .. rowOut, .. colStarts, .. colOut]);
        var weights = Floats([.. rowW, .. colW]);
        ResizeKernel("resize_bilinear_backward", GpuImageKernels.ResizeBilinearBackward, g, taps, weights, dx,
            new ImageShape { H = h, W = w, Ho = rows.I0.Length, Wo = cols.I0.Length });
    }

    /// <summary>
    /// The taps of one axis grouped by input index (a counting sort, so each input's outputs stay in output order, the
    /// first tap before the second): input i is read by outputs[starts[i]..starts[i + 1]) with those weights. Lets the
    /// backward gather per input element instead of scattering per output.
    /// </summary>
    private static (int[] Starts, int[] Outputs, float[] Weights) InvertTaps(BilinearResize.Taps taps, int inSize)
    {
        int outSize = taps.I0.Length;
        var starts = new int[inSize + 1];
        for (int o = 0; o < outSize; o++) { starts[taps.I0[o] + 1]++; starts[taps.I1[o] + 1]++; }
        for (int i = 0; i < inSize; i++) starts[i + 1] += starts[i];
        var next = starts[..inSize];
        var outputs = new int[2 * outSize];
        var weights = new float[2 * outSize];
        for (int o = 0; o < outSize; o++)
        {
            int a = next[taps.I0[o]]++;
            outputs[a] = o; weights[a] = taps.W0[o];
            int b = next[taps.I1[o]]++;
            outputs[b] = o; weights[b] = taps.W1[o];
        }
        return (starts, outputs, weights);
    }
}
