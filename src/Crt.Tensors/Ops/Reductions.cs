namespace Crt.Tensors;

// CONTRACT STUB — signatures are fixed; bodies are being implemented.
public static partial class Ops
{
    /// <summary>Sum of all elements (a scalar tensor of shape []).</summary>
    public static Tensor Sum(Tensor x) => throw new NotImplementedException("Sum");
    public static Tensor Sum(Tensor x, int axis, bool keepDim = false) => throw new NotImplementedException("Sum");
    public static Tensor Mean(Tensor x) => throw new NotImplementedException("Mean");
    public static Tensor Mean(Tensor x, int axis, bool keepDim = false) => throw new NotImplementedException("Mean");
    public static Tensor Max(Tensor x, int axis, bool keepDim = false) => throw new NotImplementedException("Max");
    public static int[] ArgMax(Tensor x, int axis = -1) => throw new NotImplementedException("ArgMax");
    public static int[] ArgMin(Tensor x, int axis = -1) => throw new NotImplementedException("ArgMin");
}
