namespace Crt.Tensors;

// CONTRACT STUB — signatures are fixed; bodies are being implemented.
public static partial class Ops
{
    public static Tensor Add(Tensor a, Tensor b) => throw new NotImplementedException("Add");
    public static Tensor Sub(Tensor a, Tensor b) => throw new NotImplementedException("Sub");
    public static Tensor Mul(Tensor a, Tensor b) => throw new NotImplementedException("Mul");
    public static Tensor Div(Tensor a, Tensor b) => throw new NotImplementedException("Div");
    public static Tensor AddScalar(Tensor a, float s) => throw new NotImplementedException("AddScalar");
    public static Tensor MulScalar(Tensor a, float s) => throw new NotImplementedException("MulScalar");
    public static Tensor Neg(Tensor a) => throw new NotImplementedException("Neg");
    public static Tensor Exp(Tensor a) => throw new NotImplementedException("Exp");
    public static Tensor Log(Tensor a) => throw new NotImplementedException("Log");
    public static Tensor Sqrt(Tensor a) => throw new NotImplementedException("Sqrt");
    public static Tensor Square(Tensor a) => throw new NotImplementedException("Square");
    public static Tensor Abs(Tensor a) => throw new NotImplementedException("Abs");
    public static Tensor Pow(Tensor a, float exponent) => throw new NotImplementedException("Pow");
    public static Tensor Clamp(Tensor a, float min, float max) => throw new NotImplementedException("Clamp");
}
