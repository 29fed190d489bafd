using Crt.Tensors.Kernels.Cpu;

namespace Crt.Tensors;

/// <summary>Zero padding of the two spatial dims, possibly asymmetric.</summary>
public readonly record struct Padding2d(int Top, int Bottom, int Left, int Right)
{
    public static Padding2d Same(int p) => new(p, p, p, p);
}

/// <summary>2-D convolution (im2col + GEMM), nearest ×2 upsampling and constant padding, each with its backward.</summary>
public static partial class Ops
{
    /// <summary>x [N, Cin, H, W], weight [Cout, Cin, kh, kw], bias [Cout]; symmetric padding.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0)
        => Conv2d(x, weight, bias, stride, Padding2d.Same(padding));

    /// <summary>
    /// PyTorch's F.conv2d (no groups, no dilation) with zero padding that may differ per side
    /// (equal to F.pad(x, (left, right, top, bottom)) followed by an unpadded convolution).
    /// </summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride, Padding2d padding)
    {
        const string op = "conv2d";
        var geom = ConvGeometry(x, weight, bias, stride, padding);
        var k = Device.KernelsOf(op, x, weight, bias);
        var y = Tensor.Empty(x.Device, geom.N, geom.Cout, geom.Ho, geom.Wo);
        k.Conv2d(geom, x, weight, bias, y);
        FlopCounter.Add(2.0 * geom.N * geom.Cout * geom.Ho * geom.Wo * weight.Size / geom.Cout);
        return Tensor.Record(op, y, new[] { x, weight, bias }, g =>
        {
            bool wantX = x.RequiresGrad, wantW = weight.RequiresGrad, wantB = bias is { RequiresGrad: true };
            var dx = wantX ? x.EmptyLike() : null;
            var dw = wantW ? weight.EmptyLike() : null;
            var db = wantB ? bias!.EmptyLike() : null;
            k.Conv2dBackward(geom, x, weight, g, dx, dw, db);
            if (dx is not null) x.AccumulateGrad(dx);
            if (dw is not null) weight.AccumulateGrad(dw);
            if (db is not null) bias!.AccumulateGrad(db);
        });
    }

    /// <summary>
    /// Storage for an input's gradient (fully overwritten by the kernel), from the step's pool. A leaf copies
    /// it into the gradient buffer it kept from the previous step (see Tensor.ZeroGrad), so nothing is allocated.
    /// </summary>
    private static ConvGeom ConvGeometry(Tensor x, Tensor weight, Tensor? bias, int stride, Padding2d p)
    {
        string xs = ShapeUtil.Format(x.Shape), ws = ShapeUtil.Format(weight.Shape);
        if (x.Rank != 4) throw new ArgumentException($"conv2d: input must be [N, Cin, H, W], got {xs}");
        if (weight.Rank != 4) throw new ArgumentException($"conv2d: weight must be [Cout, Cin, kh, kw], got {ws}");
        int n = x.Shape[0], cin = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        int cout = weight.Shape[0], kh = weight.Shape[2], kw = weight.Shape[3];
        if (weight.Shape[1] != cin)
            throw new ArgumentException($"conv2d: input {xs} has {cin} channels but weight {ws} expects {weight.Shape[1]}");
        if (kh == 0 || kw == 0) throw new ArgumentException($"conv2d: weight {ws} has an empty kernel");
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != cout))
            throw new ArgumentException($"conv2d: bias {ShapeUtil.Format(bias.Shape)} does not match weight {ws} (expected [{cout}])");
        if (stride < 1) throw new ArgumentException($"conv2d: stride must be positive, got {stride} (input {xs}, weight {ws})");
        if (p.Top < 0 || p.Bottom < 0 || p.Left < 0 || p.Right < 0)
            throw new ArgumentException($"conv2d: padding must be non-negative, got {p} (input {xs}, weight {ws})");
        int hp = h + p.Top + p.Bottom, wp = w + p.Left + p.Right;
        if (kh > hp || kw > wp)
            throw new ArgumentException($"conv2d: kernel {kh}x{kw} (weight {ws}) is larger than the padded input {hp}x{wp} (input {xs}, padding {p})");
        return ConvGeom.Create(n, cin, h, w, cout, kh, kw, stride, p.Top, p.Bottom, p.Left, p.Right);
    }

    /// <summary>Nearest-neighbour ×2 upsampling of [N, C, H, W].</summary>
    public static Tensor UpsampleNearest2x(Tensor x)
    {
        const string op = "upsample_nearest2x";
        if (x.Rank != 4) throw new ArgumentException($"{op}: input must be [N, C, H, W], got {ShapeUtil.Format(x.Shape)}");
        var k = x.Device.Kernels;
        int planes = x.Shape[0] * x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        var y = Tensor.Empty(x.Device, x.Shape[0], x.Shape[1], 2 * h, 2 * w);
        k.UpsampleNearest2x(x, y, planes, h, w);
        return Tensor.Record(op, y, new[] { x }, g =>
        {
            var dx = x.EmptyLike();
            k.UpsampleNearest2xBackward(g, dx, planes, h, w);
            x.AccumulateGrad(dx);
        });
    }

    /// <summary>
    /// Constant padding of the last two dims of [..., H, W] (F.pad(x, (left, right, top, bottom), value=value));
    /// negative amounts crop, as in PyTorch.
    /// </summary>
    public static Tensor Pad2d(Tensor x, Padding2d padding, float value = 0f)
    {
        const string op = "pad2d";
        if (x.Rank < 2) throw new ArgumentException($"{op}: input must have at least 2 dims ([..., H, W]), got {ShapeUtil.Format(x.Shape)}");
        var k = x.Device.Kernels;
        int h = x.Shape[^2], w = x.Shape[^1];
        int ho = h + padding.Top + padding.Bottom, wo = w + padding.Left + padding.Right;
        if (ho < 0 || wo < 0 || (ho == 0 && h > 0) || (wo == 0 && w > 0))
            throw new ArgumentException($"{op}: padding {padding} of input {ShapeUtil.Format(x.Shape)} leaves an output of {ho}x{wo}");
        int planes = h * w == 0 ? ShapeUtil.Numel(x.Shape.AsSpan(0, x.Rank - 2)) : x.Size / (h * w);
        var shape = (int[])x.Shape.Clone();
        shape[^2] = ho; shape[^1] = wo;
        var y = Tensor.Empty(x.Device, shape);
        k.Pad2d(x, y, planes, h, w, ho, wo, padding.Top, padding.Left, value);
        return Tensor.Record(op, y, new[] { x }, g =>
        {
            var dx = x.EmptyLike();
            k.Pad2d(g, dx, planes, ho, wo, h, w, -padding.Top, -padding.Left, 0f);
            x.AccumulateGrad(dx);
        });
    }
}
