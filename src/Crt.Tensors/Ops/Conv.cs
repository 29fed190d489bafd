namespace Crt.Tensors;

/// <summary>Zero padding of the two spatial dims, possibly asymmetric.</summary>
public readonly record struct Padding2d(int Top, int Bottom, int Left, int Right)
{
    public static Padding2d Same(int p) => new(p, p, p, p);
}

// CONTRACT STUB — signatures are fixed; bodies are being implemented.
public static partial class Ops
{
    /// <summary>x [N, Cin, H, W], weight [Cout, Cin, kh, kw], bias [Cout]; symmetric padding.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0)
        => Conv2d(x, weight, bias, stride, Padding2d.Same(padding));

    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride, Padding2d padding) => throw new NotImplementedException("Conv2d");

    /// <summary>Nearest-neighbour ×2 upsampling of [N, C, H, W].</summary>
    public static Tensor UpsampleNearest2x(Tensor x) => throw new NotImplementedException("UpsampleNearest2x");

    /// <summary>Constant padding of the last two dims of [N, C, H, W] (F.pad(x, (left, right, top, bottom))).</summary>
    public static Tensor Pad2d(Tensor x, Padding2d padding, float value = 0f) => throw new NotImplementedException("Pad2d");
}
