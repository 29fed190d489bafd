namespace Crt.Tensors;

/// <summary>Operator and method sugar over <see cref="Ops"/>, so model code reads like the math.</summary>
public sealed partial class Tensor
{
    public static Tensor operator +(Tensor a, Tensor b) => Ops.Add(a, b);
    public static Tensor operator -(Tensor a, Tensor b) => Ops.Sub(a, b);
    public static Tensor operator *(Tensor a, Tensor b) => Ops.Mul(a, b);
    public static Tensor operator /(Tensor a, Tensor b) => Ops.Div(a, b);
    public static Tensor operator +(Tensor a, float s) => Ops.AddScalar(a, s);
    public static Tensor operator -(Tensor a, float s) => Ops.AddScalar(a, -s);
    public static Tensor operator *(Tensor a, float s) => Ops.MulScalar(a, s);
    public static Tensor operator *(float s, Tensor a) => Ops.MulScalar(a, s);
    public static Tensor operator /(Tensor a, float s) => Ops.MulScalar(a, 1f / s);
    public static Tensor operator -(Tensor a) => Ops.Neg(a);

    public Tensor Reshape(params int[] shape) => Ops.Reshape(this, shape);
    public Tensor Permute(params int[] dims) => Ops.Permute(this, dims);
    public Tensor Transpose(int dim0, int dim1) => Ops.Transpose(this, dim0, dim1);
    public Tensor Sum() => Ops.Sum(this);
    public Tensor Mean() => Ops.Mean(this);
}
