using Crt.Tensors.Backends;

namespace Crt.Tensors;

/// <summary>Pointwise activations, each forward with its backward (fused kernels on every device).</summary>
public static partial class Ops
{
    /// <summary>SiLU / swish: x·σ(x).</summary>
    public static Tensor Silu(Tensor x) => Pointwise("silu", UnaryOp.Silu, x);

    public static Tensor Sigmoid(Tensor x) => Pointwise("sigmoid", UnaryOp.Sigmoid, x);

    public static Tensor Tanh(Tensor x) => Pointwise("tanh", UnaryOp.Tanh, x);

    /// <summary>max(x, 0); the gradient passes where x &gt; 0.</summary>
    public static Tensor Relu(Tensor x) => Pointwise("relu", UnaryOp.LeakyRelu, x, 0f);

    /// <summary>x for x &gt; 0, slope·x otherwise.</summary>
    public static Tensor LeakyRelu(Tensor x, float negativeSlope = 0.01f) => Pointwise("leaky_relu", UnaryOp.LeakyRelu, x, negativeSlope);

    /// <summary>GELU, exact (erf) by default, PyTorch's tanh approximation when asked.</summary>
    public static Tensor Gelu(Tensor x, bool tanhApproximation = false) =>
        Pointwise("gelu", tanhApproximation ? UnaryOp.GeluTanh : UnaryOp.Gelu, x);
}
