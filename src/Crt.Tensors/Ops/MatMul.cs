namespace Crt.Tensors;

// CONTRACT STUB — signatures are fixed; bodies are being implemented.
public static partial class Ops
{
    /// <summary>a [..., m, k] · b [..., k, n] (2-D, or batched with equal batch dims; b may be 2-D and shared across a's batch).</summary>
    public static Tensor MatMul(Tensor a, Tensor b) => throw new NotImplementedException("MatMul");

    /// <summary>PyTorch's F.linear: x [..., in] · weightᵀ (weight [out, in]) + bias [out].</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null) => throw new NotImplementedException("Linear");
}
