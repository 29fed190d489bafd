using Crt.Tensors.Kernels.Cpu;

namespace Crt.Tensors;

/// <summary>Max and average pooling over the spatial dims of [N, C, H, W] (no padding, floor mode, as PyTorch's defaults).</summary>
public static partial class Ops
{
    /// <summary>F.max_pool2d(x, kernel, stride): the gradient goes to the (first) maximal element of each window.</summary>
    public static Tensor MaxPool2d(Tensor x, int kernel, int? stride = null)
    {
        var (n, c, h, w, ho, wo, s) = PoolGeometry("max_pool2d", x, kernel, stride);
        var y = Tensor.Empty(n, c, ho, wo);
        var argmax = new int[y.Size];
        Pooling.MaxForward(x.ReadOnlySpan, n * c, h, w, kernel, s, ho, wo, y.Span, argmax);
        return Tensor.Record("max_pool2d", y, new[] { x }, g =>
        {
            var dx = x.ZerosLike();
            Pooling.MaxBackward(g.ReadOnlySpan, argmax, n * c, h * w, ho * wo, dx.Span);
            x.AccumulateGrad(dx);
        });
    }

    /// <summary>F.avg_pool2d(x, kernel, stride) without padding.</summary>
    public static Tensor AvgPool2d(Tensor x, int kernel, int? stride = null)
    {
        var (n, c, h, w, ho, wo, s) = PoolGeometry("avg_pool2d", x, kernel, stride);
        var y = Tensor.Empty(n, c, ho, wo);
        Pooling.AvgForward(x.ReadOnlySpan, n * c, h, w, kernel, s, ho, wo, y.Span);
        return Tensor.Record("avg_pool2d", y, new[] { x }, g =>
        {
            var dx = x.ZerosLike();
            Pooling.AvgBackward(g.ReadOnlySpan, n * c, h, w, kernel, s, ho, wo, dx.Span);
            x.AccumulateGrad(dx);
        });
    }

    private static (int N, int C, int H, int W, int Ho, int Wo, int Stride) PoolGeometry(string op, Tensor x, int kernel, int? stride)
    {
        Device.Common(op, x);
        if (x.Rank != 4) throw new ArgumentException($"{op}: expected [N, C, H, W], got {ShapeUtil.Format(x.Shape)}");
        int s = stride ?? kernel;
        if (kernel < 1 || s < 1) throw new ArgumentException($"{op}: kernel {kernel} and stride {s} must be positive");
        int h = x.Shape[2], w = x.Shape[3];
        if (h < kernel || w < kernel) throw new ArgumentException($"{op}: a {kernel}×{kernel} window does not fit in {ShapeUtil.Format(x.Shape)}");
        return (x.Shape[0], x.Shape[1], h, w, (h - kernel) / s + 1, (w - kernel) / s + 1, s);
    }
}
