namespace Crt.Tensors;

// CONTRACT STUB — signatures are fixed; bodies are being implemented.
public static partial class Ops
{
    public static Tensor Silu(Tensor x) => throw new NotImplementedException("Silu");
    public static Tensor Sigmoid(Tensor x) => throw new NotImplementedException("Sigmoid");
    public static Tensor Tanh(Tensor x) => throw new NotImplementedException("Tanh");
    public static Tensor Relu(Tensor x) => throw new NotImplementedException("Relu");
    public static Tensor LeakyRelu(Tensor x, float negativeSlope = 0.01f) => throw new NotImplementedException("LeakyRelu");
    /// <summary>GELU, exact (erf) by default, PyTorch's tanh approximation when asked.</summary>
    public static Tensor Gelu(Tensor x, bool tanhApproximation = false) => throw new NotImplementedException("Gelu");
}
