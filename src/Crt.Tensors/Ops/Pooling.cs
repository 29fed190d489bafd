namespace Crt.Tensors;

/// <summary>Max and average pooling over the spatial dims of [N, C, H, W] (floor mode, as PyTorch's defaults; optional implicit padding).</summary>
public static partial class Ops
{
    /// <summary>F.max_pool2d(x, kernel, stride, padding): padding never wins the max; the gradient goes to the (first) maximal element of each window.</summary>
    public static Tensor MaxPool2d(Tensor x, int kernel, int? stride = null, int padding = 0)
    {
        var (n, c, h, w, ho, wo, s) = PoolGeometry("max_pool2d", x, kernel, stride, padding);
        var k = x.Device.Kernels;
        var y = Tensor.Empty(x.Device, n, c, ho, wo);
        var argmax = k.MaxPool(x, n * c, h, w, kernel, s, padding, ho, wo, y);
        return Tensor.Record("max_pool2d", y, new[] { x }, g =>
        {
            var dx = x.ZerosLike();
            k.MaxPoolBackward(argmax, g, n * c, h * w, ho * wo, dx);
            x.AccumulateGrad(dx);
        });
    }

    /// <summary>
    /// F.avg_pool2d(x, kernel, stride, padding, count_include_pad): with <paramref name="countIncludePad"/>
    /// false a window at the border averages only the pixels inside the image (TensorFlow's SAME pooling,
    /// which the FID Inception uses).
    /// </summary>
    public static Tensor AvgPool2d(Tensor x, int kernel, int? stride = null, int padding = 0, bool countIncludePad = true)
    {
        var (n, c, h, w, ho, wo, s) = PoolGeometry("avg_pool2d", x, kernel, stride, padding);
        var k = x.Device.Kernels;
        var y = Tensor.Empty(x.Device, n, c, ho, wo);
        k.AvgPool(x, n * c, h, w, kernel, s, padding, countIncludePad, ho, wo, y);
        return Tensor.Record("avg_pool2d", y, new[] { x }, g =>
        {
            var dx = x.ZerosLike();
            k.AvgPoolBackward(g, n * c, h, w, kernel, s, padding, countIncludePad, ho, wo, dx);
            x.AccumulateGrad(dx);
        });
    }

    private static (int N, int C, int H, int W, int Ho, int Wo, int Stride) PoolGeometry(string op, Tensor x, int kernel, int? stride, int padding)
    {
        if (x.Rank != 4) throw new ArgumentException($"{op}: expected [N, C, H, W], got {ShapeUtil.Format(x.Shape)}");
        int s = stride ?? kernel;
        if (kernel < 1 || s < 1) throw new ArgumentException($"{op}: kernel {kernel} and stride {s} must be positive");
        // PyTorch's rule: every window keeps at least one real pixel.
        if (padding < 0 || 2 * padding > kernel) throw new ArgumentException($"{op}: padding {padding} must be between 0 and half the kernel ({kernel})");
        int h = x.Shape[2] + 2 * padding, w = x.Shape[3] + 2 * padding;
        if (h < kernel || w < kernel) throw new ArgumentException($"{op}: a {kernel}×{kernel} window does not fit in {ShapeUtil.Format(x.Shape)} padded by {padding}");
        return (x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], (h - kernel) / s + 1, (w - kernel) / s + 1, s);
    }
}
