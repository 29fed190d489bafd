using Crt.Tensors.Kernels.Cpu;

namespace Crt.Tensors.Backends.Cpu;

/// <summary>The CPU's convolution, padding, upsampling, pooling and resizing.</summary>
public sealed partial class CpuKernelTable
{
    public override void Conv2d(in ConvGeom geom, Tensor x, Tensor w, Tensor? bias, Tensor y) =>
        Conv2dKernels.Forward(geom, x.ReadOnlySpan, w.ReadOnlySpan, bias is null ? default : bias.ReadOnlySpan, y.Span);

    public override void Conv2dBackward(in ConvGeom geom, Tensor x, Tensor w, Tensor g, Tensor? dx, Tensor? dw, Tensor? db) =>
        Conv2dKernels.Backward(geom, x.ReadOnlySpan, w.ReadOnlySpan, g.ReadOnlySpan,
            dx is null ? default : dx.Span, dw is null ? default : dw.Span, db is null ? default : db.Span);

    public override void UpsampleNearest2x(Tensor x, Tensor y, int planes, int h, int w) =>
        Conv2dKernels.UpsampleNearest2x(x.ReadOnlySpan, y.Span, planes, h, w);

    public override void UpsampleNearest2xBackward(Tensor g, Tensor dx, int planes, int h, int w) =>
        Conv2dKernels.UpsampleNearest2xBackward(g.ReadOnlySpan, dx.Span, planes, h, w);

    public override void Pad2d(Tensor x, Tensor y, int planes, int h, int w, int ho, int wo, int top, int left, float value) =>
        Conv2dKernels.Pad2d(x.ReadOnlySpan, y.Span, planes, h, w, ho, wo, top, left, value);

    public override object MaxPool(Tensor x, int planes, int h, int w, int kernel, int stride, int padding, int ho, int wo, Tensor y)
    {
        var argmax = new int[y.Size];
        Pooling.MaxForward(x.ReadOnlySpan, planes, h, w, kernel, stride, padding, ho, wo, y.Span, argmax);
        return argmax;
    }

    public override void MaxPoolBackward(object saved, Tensor g, int planes, int planeIn, int planeOut, Tensor dx) =>
        Pooling.MaxBackward(g.ReadOnlySpan, (int[])saved, planes, planeIn, planeOut, dx.Span);

    public override void AvgPool(Tensor x, int planes, int h, int w, int kernel, int stride, int padding, bool countIncludePad, int ho, int wo, Tensor y) =>
        Pooling.AvgForward(x.ReadOnlySpan, planes, h, w, kernel, stride, padding, countIncludePad, ho, wo, y.Span);

    public override void AvgPoolBackward(Tensor g, int planes, int h, int w, int kernel, int stride, int padding, bool countIncludePad, int ho, int wo, Tensor dx) =>
        Pooling.AvgBackward(g.ReadOnlySpan, planes, h, w, kernel, stride, padding, countIncludePad, ho, wo, dx.Span);

    public override void ResizeBilinear(Tensor x, int planes, int h, int w, BilinearResize.Taps rows, BilinearResize.Taps cols, Tensor y) =>
        BilinearResize.Forward(x.ReadOnlySpan, planes, h, w, rows, cols, y.Span);

    public override void ResizeBilinearBackward(Tensor g, int planes, int h, int w, BilinearResize.Taps rows, BilinearResize.Taps cols, Tensor dx) =>
        BilinearResize.Backward(g.ReadOnlySpan, planes, h, w, rows, cols, dx.Span);
}
