using System.Numerics.Tensors;
using Crt.Tensors.Kernels.Cpu;

namespace Crt.Tensors.Backends.Cpu;

/// <summary>
/// The CPU's kernel table: each entry hands the tensors' spans to the SIMD kernels of <c>Kernels/Cpu</c> (the code the
/// ops called directly before the device seam; moved, not rewritten). This file: memory, elementwise ops, reductions
/// and layout; the other parts of the class hold the model-level families.
/// </summary>
public sealed partial class CpuKernelTable : KernelTable
{
    public static readonly CpuKernelTable Instance = new();

    private CpuKernelTable() { }

    public override string DeviceName => "cpu";

    // ---- memory ---------------------------------------------------------------------------------
    public override void Fill(Tensor y, float value) => y.Span.Fill(value);
    public override void Copy(Tensor src, Tensor dst) => Layout.Copy(src.ReadOnlySpan, dst.Span);
    public override void AddInPlace(Tensor acc, Tensor x) => Elementwise.AddInPlaceParallel(acc.Span, x.ReadOnlySpan);

    // ---- elementwise ----------------------------------------------------------------------------
    public override void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y) =>
        Broadcast.Binary(op, a.ReadOnlySpan, a.Shape, b.ReadOnlySpan, b.Shape, y.Span, y.Shape);

    public override void ReduceTo(Tensor g, Tensor r) => Broadcast.ReduceTo(g.ReadOnlySpan, g.Shape, r.Span, r.Shape);

    public override void Unary(UnaryOp op, Tensor x, Tensor y, float p = 0, float q = 0)
    {
        var xs = x.ReadOnlySpan; var ys = y.Span;
        switch (op)
        {
            case UnaryOp.AddScalar: TensorPrimitives.Add(xs, p, ys); break;
            case UnaryOp.MulScalar: TensorPrimitives.Multiply(xs, p, ys); break;
            case UnaryOp.Exp: TensorPrimitives.Exp(xs, ys); break;
            case UnaryOp.Log: TensorPrimitives.Log(xs, ys); break;
            case UnaryOp.Sqrt: TensorPrimitives.Sqrt(xs, ys); break;
            case UnaryOp.Square: TensorPrimitives.Multiply(xs, xs, ys); break;
            case UnaryOp.Abs: TensorPrimitives.Abs(xs, ys); break;
            case UnaryOp.Pow: TensorPrimitives.Pow(xs, p, ys); break;
            case UnaryOp.Clamp: TensorPrimitives.Clamp(xs, p, q, ys); break;
            case UnaryOp.Silu: ActivationKernels.Silu(xs, ys); break;
            case UnaryOp.Sigmoid: ActivationKernels.Sigmoid(xs, ys); break;
            case UnaryOp.Tanh: ActivationKernels.Tanh(xs, ys); break;
            case UnaryOp.LeakyRelu: ActivationKernels.LeakyRelu(xs, ys, p); break;
            case UnaryOp.Gelu: ActivationKernels.Gelu(xs, ys); break;
            case UnaryOp.GeluTanh: ActivationKernels.GeluTanh(xs, ys); break;
            default: throw Missing(op.ToString());
        }
    }

    public override void UnaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor g, Tensor dx, float p = 0, float q = 0)
    {
        var gs = g.ReadOnlySpan; var o = dx.Span;
        switch (op)
        {
            case UnaryOp.AddScalar: gs.CopyTo(o); break;
            case UnaryOp.MulScalar: TensorPrimitives.Multiply(gs, p, o); break;
            case UnaryOp.Exp: TensorPrimitives.Multiply(gs, y.ReadOnlySpan, o); break;
            case UnaryOp.Log: TensorPrimitives.Divide(gs, x.ReadOnlySpan, o); break;
            case UnaryOp.Sqrt:
                TensorPrimitives.Divide(gs, y.ReadOnlySpan, o);
                TensorPrimitives.Multiply(o, 0.5f, o);
                break;
            case UnaryOp.Square:
                TensorPrimitives.Multiply(gs, x.ReadOnlySpan, o);
                TensorPrimitives.Multiply(o, 2f, o);
                break;
            case UnaryOp.Abs:
            {
                var xs = x.ReadOnlySpan;
                for (int i = 0; i < o.Length; i++) o[i] = xs[i] > 0 ? gs[i] : xs[i] < 0 ? -gs[i] : 0f;
                break;
            }
            case UnaryOp.Pow:
                TensorPrimitives.Pow(x.ReadOnlySpan, p - 1f, o);
                TensorPrimitives.Multiply(o, p, o);
                TensorPrimitives.Multiply(o, gs, o);
                break;
            case UnaryOp.Clamp:
            {
                var xs = x.ReadOnlySpan;
                for (int i = 0; i < o.Length; i++) o[i] = xs[i] >= p && xs[i] <= q ? gs[i] : 0f;
                break;
            }
            case UnaryOp.Silu: ActivationKernels.SiluBackward(x.ReadOnlySpan, gs, o); break;
            case UnaryOp.Sigmoid: ActivationKernels.SigmoidBackward(y.ReadOnlySpan, gs, o); break;
            case UnaryOp.Tanh: ActivationKernels.TanhBackward(y.ReadOnlySpan, gs, o); break;
            case UnaryOp.LeakyRelu: ActivationKernels.LeakyReluBackward(x.ReadOnlySpan, gs, o, p); break;
            case UnaryOp.Gelu: ActivationKernels.GeluBackward(x.ReadOnlySpan, gs, o); break;
            case UnaryOp.GeluTanh: ActivationKernels.GeluTanhBackward(x.ReadOnlySpan, gs, o); break;
            default: throw Missing(op + "_backward");
        }
    }

    public override void DropoutMask(Tensor mask, float p, Rng rng) => Indexing.DropoutMask(mask.Span, p, rng);

    // ---- reductions -----------------------------------------------------------------------------
    public override void SumAll(Tensor x, float scale, Tensor y) => y.Span[0] = (float)(Broadcast.SumDouble(x.ReadOnlySpan) * scale);

    /// <summary>Float32 SIMD partial sums over 4096-element blocks, accumulated in double (exact enough for 10⁸ elements).</summary>
    public override double SumOfSquares(Tensor x)
    {
        const int block = 4096;
        var xs = x.ReadOnlySpan;
        double s = 0;
        for (int i = 0; i < xs.Length; i += block)
            s += TensorPrimitives.SumOfSquares(xs.Slice(i, Math.Min(block, xs.Length - i)));
        return s;
    }

    public override void SumAxis(Tensor x, int outer, int n, int inner, float scale, Tensor y)
    {
        Reduce.SumAxis(x.ReadOnlySpan, outer, n, inner, y.Span);
        if (scale != 1f) TensorPrimitives.Multiply(y.Span, scale, y.Span);
    }

    public override void ExpandAxis(Tensor g, int outer, int n, int inner, float scale, Tensor dx) =>
        Reduce.ExpandAxis(g.ReadOnlySpan, outer, n, inner, scale, dx.Span);

    public override object MaxAxis(Tensor x, int outer, int n, int inner, Tensor y)
    {
        var arg = new int[outer * inner];
        Reduce.MaxAxis(x.ReadOnlySpan, outer, n, inner, y.Span, arg);
        return arg;
    }

    public override void MaxAxisBackward(object saved, Tensor g, int outer, int n, int inner, Tensor dx)
    {
        var arg = (int[])saved;
        var gs = g.ReadOnlySpan; var d = dx.Span;
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
                d[(o * n + arg[o * inner + i]) * inner + i] += gs[o * inner + i];
    }

    public override int[] ArgExtreme(Tensor x, int outer, int n, int inner, bool min)
    {
        var arg = new int[outer * inner];
        Reduce.MaxAxis(x.ReadOnlySpan, outer, n, inner, new float[outer * inner], arg, min);
        return arg;
    }

    // ---- layout ---------------------------------------------------------------------------------
    public override void Permute(Tensor x, int[] dims, Tensor y) => Layout.Permute(x.ReadOnlySpan, x.Shape, dims, y.Span);

    public override void SliceAxis(Tensor x, int outer, int n, int inner, int start, int len, Tensor y) =>
        Layout.SliceAxis(x.ReadOnlySpan, outer, n, inner, start, len, y.Span);

    public override void AddIntoSlice(Tensor y, int outer, int n, int inner, int start, int len, Tensor x) =>
        Layout.AddIntoSlice(y.ReadOnlySpan, outer, n, inner, start, len, x.Span);

    public override void CopyIntoSlice(Tensor y, int outer, int n, int inner, int start, int len, Tensor x)
    {
        var src = y.ReadOnlySpan; var dst = x.Span;
        for (int o = 0; o < outer; o++)
            src.Slice(o * len * inner, len * inner).CopyTo(dst.Slice((o * n + start) * inner, len * inner));
    }

    public override void IndexSelect(Tensor x, int outer, int n, int inner, int[] index, Tensor y)
    {
        var xs = x.ReadOnlySpan; var ys = y.Span;
        int m = index.Length;
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < m; j++)
                xs.Slice((o * n + index[j]) * inner, inner).CopyTo(ys.Slice((o * m + j) * inner, inner));
    }

    public override void IndexSelectBackward(Tensor g, int outer, int n, int inner, int[] index, Tensor dx)
    {
        var gs = g.ReadOnlySpan; var ds = dx.Span;
        int m = index.Length;
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < m; j++)
                Elementwise.AddInPlace(ds.Slice((o * n + index[j]) * inner, inner), gs.Slice((o * m + j) * inner, inner));
    }

    public override void GatherOffsets(Tensor x, int[] offsets, Tensor y)
    {
        var xs = x.ReadOnlySpan; var ys = y.Span;
        for (int i = 0; i < offsets.Length; i++) ys[i] = xs[offsets[i]];
    }

    public override void ScatterAddOffsets(Tensor g, int[] offsets, Tensor dx)
    {
        var gs = g.ReadOnlySpan; var ds = dx.Span;
        for (int i = 0; i < offsets.Length; i++) ds[offsets[i]] += gs[i];
    }

    // ---- embedding ----------------------------------------------------------------------------------
    public override void GatherRows(Tensor table, int d, int[] indices, Tensor y) => Indexing.GatherRows(table.ReadOnlySpan, d, indices, y.Span);
    public override void ScatterAddRows(Tensor g, int d, int[] indices, Tensor table) => Indexing.ScatterAddRows(g.ReadOnlySpan, d, indices, table.Span);

    // ---- optimizers ---------------------------------------------------------------------------------
    public override void AdamStep(Tensor p, Tensor grad, Tensor m, Tensor v, in AdamStepArgs args) =>
        Kernels.Cpu.Adam.Step(p.Span, grad.ReadOnlySpan, m.Span, v.Span, args);

    public override void LerpInPlace(Tensor a, Tensor b, float t) => TensorPrimitives.Lerp(a.ReadOnlySpan, b.ReadOnlySpan, t, a.Span);
}
