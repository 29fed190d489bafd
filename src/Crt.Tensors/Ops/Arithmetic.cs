using System.Numerics.Tensors;
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
        Device.Common(name, a, b);
        var shape = ShapeUtil.Broadcast(a.Shape, b.Shape, name);
        var y = Tensor.Empty(shape);
        Broadcast.Binary(op, a.ReadOnlySpan, a.Shape, b.ReadOnlySpan, b.Shape, y.Span, shape);
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
                    case BinaryOp.Sub: gb = g.Clone(); TensorPrimitives.Negate(gb.Span, gb.Span); break;
                    case BinaryOp.Mul: gb = BroadcastBinary(BinaryOp.Mul, g, a); break;
                    default: // -g·a/b² = -(g/b)·y
                        gb = BroadcastBinary(BinaryOp.Div, g, b);
                        var yy = BroadcastBinary(BinaryOp.Div, a, b);
                        TensorPrimitives.Multiply(gb.Span, yy.Span, gb.Span);
                        TensorPrimitives.Negate(gb.Span, gb.Span);
                        break;
                }
                var rb = ReduceToShape(gb, b.Shape);
                b.AccumulateGrad(rb, owned: !ReferenceEquals(rb, g));
            }
        });
    }

    private static Tensor BroadcastBinary(BinaryOp op, Tensor a, Tensor b)
    {
        var shape = ShapeUtil.Broadcast(a.Shape, b.Shape, "broadcast");
        var y = Tensor.Empty(shape);
        Broadcast.Binary(op, a.ReadOnlySpan, a.Shape, b.ReadOnlySpan, b.Shape, y.Span, shape);
        return y;
    }

    /// <summary>Sums a broadcast gradient back down to an operand's shape (returns g itself when shapes agree).</summary>
    internal static Tensor ReduceToShape(Tensor g, int[] shape)
    {
        if (ShapeUtil.SameShape(g.Shape, shape)) return g;
        var r = Tensor.Empty(shape);
        Broadcast.ReduceTo(g.ReadOnlySpan, g.Shape, r.Span, shape);
        return r;
    }

    public static Tensor AddScalar(Tensor a, float s)
    {
        var y = a.EmptyLike();
        TensorPrimitives.Add(a.ReadOnlySpan, s, y.Span);
        return Tensor.Record("add_scalar", y, new[] { a }, g => a.AccumulateGrad(g, owned: false));
    }

    public static Tensor MulScalar(Tensor a, float s)
    {
        var y = a.EmptyLike();
        TensorPrimitives.Multiply(a.ReadOnlySpan, s, y.Span);
        return Tensor.Record("mul_scalar", y, new[] { a }, g =>
        {
            var ga = g.EmptyLike();
            TensorPrimitives.Multiply(g.ReadOnlySpan, s, ga.Span);
            a.AccumulateGrad(ga);
        });
    }

    public static Tensor Neg(Tensor a) => MulScalar(a, -1f);

    public static Tensor Exp(Tensor a)
    {
        var y = a.EmptyLike();
        TensorPrimitives.Exp(a.ReadOnlySpan, y.Span);
        return Tensor.Record("exp", y, new[] { a }, g => a.AccumulateGrad(Product(g, y)));
    }

    public static Tensor Log(Tensor a)
    {
        var y = a.EmptyLike();
        TensorPrimitives.Log(a.ReadOnlySpan, y.Span);
        return Tensor.Record("log", y, new[] { a }, g =>
        {
            var ga = g.EmptyLike();
            TensorPrimitives.Divide(g.ReadOnlySpan, a.ReadOnlySpan, ga.Span);
            a.AccumulateGrad(ga);
        });
    }

    public static Tensor Sqrt(Tensor a)
    {
        var y = a.EmptyLike();
        TensorPrimitives.Sqrt(a.ReadOnlySpan, y.Span);
        return Tensor.Record("sqrt", y, new[] { a }, g =>
        {
            var ga = g.EmptyLike();
            TensorPrimitives.Divide(g.ReadOnlySpan, y.ReadOnlySpan, ga.Span);
            TensorPrimitives.Multiply(ga.Span, 0.5f, ga.Span);
            a.AccumulateGrad(ga);
        });
    }

    public static Tensor Square(Tensor a)
    {
        var y = a.EmptyLike();
        TensorPrimitives.Multiply(a.ReadOnlySpan, a.ReadOnlySpan, y.Span);
        return Tensor.Record("square", y, new[] { a }, g =>
        {
            var ga = Product(g, a);
            TensorPrimitives.Multiply(ga.Span, 2f, ga.Span);
            a.AccumulateGrad(ga);
        });
    }

    public static Tensor Abs(Tensor a)
    {
        var y = a.EmptyLike();
        TensorPrimitives.Abs(a.ReadOnlySpan, y.Span);
        return Tensor.Record("abs", y, new[] { a }, g =>
        {
            var ga = g.EmptyLike();
            var gs = g.ReadOnlySpan; var xs = a.ReadOnlySpan; var o = ga.Span;
            for (int i = 0; i < o.Length; i++) o[i] = xs[i] > 0 ? gs[i] : xs[i] < 0 ? -gs[i] : 0f;
            a.AccumulateGrad(ga);
        });
    }

    public static Tensor Pow(Tensor a, float exponent)
    {
        var y = a.EmptyLike();
        TensorPrimitives.Pow(a.ReadOnlySpan, exponent, y.Span);
        return Tensor.Record("pow", y, new[] { a }, g =>
        {
            var ga = a.EmptyLike();
            TensorPrimitives.Pow(a.ReadOnlySpan, exponent - 1f, ga.Span);
            TensorPrimitives.Multiply(ga.Span, exponent, ga.Span);
            TensorPrimitives.Multiply(ga.Span, g.ReadOnlySpan, ga.Span);
            a.AccumulateGrad(ga);
        });
    }

    /// <summary>Clamps to [min, max]; the gradient passes where the input was inside the range.</summary>
    public static Tensor Clamp(Tensor a, float min, float max)
    {
        if (min > max) throw new ArgumentException($"clamp: min {min} is greater than max {max}");
        var y = a.EmptyLike();
        TensorPrimitives.Clamp(a.ReadOnlySpan, min, max, y.Span);
        return Tensor.Record("clamp", y, new[] { a }, g =>
        {
            var ga = g.EmptyLike();
            var gs = g.ReadOnlySpan; var xs = a.ReadOnlySpan; var o = ga.Span;
            for (int i = 0; i < o.Length; i++) o[i] = xs[i] >= min && xs[i] <= max ? gs[i] : 0f;
            a.AccumulateGrad(ga);
        });
    }

    private static Tensor Product(Tensor x, Tensor y)
    {
        var r = x.EmptyLike();
        TensorPrimitives.Multiply(x.ReadOnlySpan, y.ReadOnlySpan, r.Span);
        return r;
    }
}
