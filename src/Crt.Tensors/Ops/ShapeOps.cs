namespace Crt.Tensors;

// CONTRACT STUB — signatures are fixed; bodies are being implemented.
public static partial class Ops
{
    /// <summary>Same storage, new shape (one dim may be -1).</summary>
    public static Tensor Reshape(Tensor x, params int[] shape) => throw new NotImplementedException("Reshape");
    public static Tensor Permute(Tensor x, params int[] dims) => throw new NotImplementedException("Permute");
    public static Tensor Transpose(Tensor x, int dim0, int dim1) => throw new NotImplementedException("Transpose");
    /// <summary>x[..., start:end, ...] along axis (a copy).</summary>
    public static Tensor Slice(Tensor x, int axis, int start, int end) => throw new NotImplementedException("Slice");
    public static Tensor Concat(Tensor[] xs, int axis) => throw new NotImplementedException("Concat");
}
