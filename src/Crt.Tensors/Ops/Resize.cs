using Crt.Tensors.Kernels.Cpu;

namespace Crt.Tensors;

/// <summary>Bilinear resizing of images, with its backward.</summary>
public static partial class Ops
{
    /// <summary>
    /// F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False) of [N, C, H, W]
    /// (no antialiasing, so shrinking samples rather than averages, as PyTorch's default).
    /// </summary>
    public static Tensor ResizeBilinear(Tensor x, int height, int width)
    {
        const string op = "resize_bilinear";
        if (x.Rank != 4) throw new ArgumentException($"{op}: expected [N, C, H, W], got {ShapeUtil.Format(x.Shape)}");
        if (height < 1 || width < 1) throw new ArgumentException($"{op}: output size {height}×{width} must be positive");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        if (h < 1 || w < 1) throw new ArgumentException($"{op}: input {ShapeUtil.Format(x.Shape)} has no pixels");
        var rows = BilinearResize.Compute(h, height);
        var cols = BilinearResize.Compute(w, width);
        var k = x.Device.Kernels;
        var y = Tensor.Empty(x.Device, n, c, height, width);
        k.ResizeBilinear(x, n * c, h, w, rows, cols, y);
        return Tensor.Record(op, y, new[] { x }, g =>
        {
            var dx = x.EmptyLike();
            k.ResizeBilinearBackward(g, n * c, h, w, rows, cols, dx);
            x.AccumulateGrad(dx);
        });
    }
}
