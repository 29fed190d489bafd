using Crt.Tensors.Backends;
using Crt.Tensors.Kernels.Cpu;

namespace Crt.Tensors;

/// <summary>Broadcasting elementwise arithmetic and pointwise math, each forward with its backward.</summary>
public static partial class Ops
{
    public static Tensor Add(Tensor a, Tensor b) => BinaryOpTaped("add", BinaryOp.Add, a, b);
    public static Tensor Sub(Tensor a, Tensor b) => BinaryOpTaped("sub", BinaryOp.Sub, a, b);
    public static Tensor Mul(Tensor a, Tensor b) => BinaryOpTaped("mul", BinaryOp.Mul, a, b);
    public static Tensor Div(Tensor a, Tensor b) => BinaryOpTaped("div", BinaryOp.Div, a, b);

    private static Tensor BinaryOpTaped(string name, BinaryOp op, Tensor a, Tensor b)
    {
        var k = Device.KernelsOf(name, a, b);
        var y = BroadcastBinary(op, a, b, name);
        return Tensor.Record(name, y, new[] { a, b }, g =>
        {
            if (a.RequiresGrad)
            {
                // d(a op b)/da: 1 for add/sub, b for mul, 1/b for div
                var ga = op switch
                {
                    BinaryOp.Mul => BroadcastBinary(BinaryOp.Mul, g, b),
                    BinaryOp.Div => BroadcastBinary(BinaryOp.Div, g, b),
                    _ => g,
                };
                var ra = ReduceToShape(ga, a.Shape);
                a.AccumulateGrad(ra, owned: !ReferenceEquals(ra, g));
            }
            if (b.RequiresGrad)
            {
                Tensor gb;
                switch (op)
                {
                    case BinaryOp.Add: gb = g; break;
                    case BinaryOp.Sub: gb = g.EmptyLike(); k.Unary(UnaryOp.MulScalar, g, gb, -1f); break;
                    case BinaryOp.Mul: gb = BroadcastBinary(BinaryOp.Mul, g, a); break;
                    default: // -g·a/b² = -(g/b)·y
                        var gOverB = BroadcastBinary(BinaryOp.Div, g, b);
                        var yy = BroadcastBinary(BinaryOp.Div, a, b);
                        gb = gOverB.EmptyLike();
                        k.Binary(BinaryOp.Mul, gOverB, yy, gb);
                        k.Unary(UnaryOp.MulScalar, gb, gb, -1f);
                        break;
                }
                var rb = ReduceToShape(gb, b.Shape);
                b.AccumulateGrad(rb, owned: !ReferenceEquals(rb, g));
            }
        });
    }

    private static Tensor BroadcastBinary(BinaryOp op, Tensor a, Tensor b, string name = "broadcast")
    {
        var shape = ShapeUtil.Broadcast(a.Shape, b.Shape, name);
        var y = Tensor.Empty(a.Device, shape);
        a.Device.Kernels.Binary(op, a, b, y);
        return y;
    }

    /// <summary>Sums a broadcast gradient back down to an operand's shape (returns g itself when shapes agree).</summary>
    internal static Tensor ReduceToShape(Tensor g, int[] shape)
    {
        if (ShapeUtil.SameShape(g.Shape, shape)) return g;
        var r = Tensor.Empty(g.Device, shape);
        g.Device.Kernels.ReduceTo(g, r);
        return r;
    }

    public static Tensor AddScalar(Tensor a, float s) => Pointwise("add_scalar", UnaryOp.AddScalar, a, s);

    public static Tensor MulScalar(Tensor a, float s) => Pointwise("mul_scalar", UnaryOp.MulScalar, a, s);

    public static Tensor Neg(Tensor a) => MulScalar(a, -1f);

    public static Tensor Exp(Tensor a) => Pointwise("exp", UnaryOp.Exp, a);

    public static Tensor Log(Tensor a) => Pointwise("log", UnaryOp.Log, a);

    public static Tensor Sqrt(Tensor a) => Pointwise("sqrt", UnaryOp.Sqrt, a);

    public static Tensor Square(Tensor a) => Pointwise("square", UnaryOp.Square, a);

    public static Tensor Abs(Tensor a) => Pointwise("abs", UnaryOp.Abs, a);

    public static Tensor Pow(Tensor a, float exponent) => Pointwise("pow", UnaryOp.Pow, a, exponent);

    /// <summary>Clamps to [min, max]; the gradient passes where the input was inside the range.</summary>
    public static Tensor Clamp(Tensor a, float min, float max)
    {
        if (min > max) throw new ArgumentException($"clamp: min {min} is greater than max {max}");
        return Pointwise("clamp", UnaryOp.Clamp, a, min, max);
    }

    /// <summary>y = f(x) for a <see cref="UnaryOp"/>, with its backward dx = g·f'(x) (add_scalar hands g on as it is).</summary>
    private static Tensor Pointwise(string name, UnaryOp op, Tensor x, float p = 0, float q = 0)
    {
        var k = x.Device.Kernels;
        var y = x.EmptyLike();
        k.Unary(op, x, y, p, q);
        return Tensor.Record(name, y, new[] { x }, g =>
        {
            if (op == UnaryOp.AddScalar) { x.AccumulateGrad(g, owned: false); return; }
            var dx = x.EmptyLike();
            k.UnaryBackward(op, x, y, g, dx, p, q);
            x.AccumulateGrad(dx);
        });
    }
}
