using System.Numerics.Tensors;
using Crt.Tensors.Kernels.Cpu;

namespace Crt.Tensors;

/// <summary>Softmax, log-softmax and the losses (cross-entropy, MSE, L1), each forward with its backward.</summary>
public static partial class Ops
{
    /// <summary>Numerically stable softmax along <paramref name="axis"/> (any axis; the last one is the fast path).</summary>
    public static Tensor Softmax(Tensor x, int axis = -1) => SoftmaxImpl(x, axis, log: false);

    /// <summary>Numerically stable log-softmax along <paramref name="axis"/>.</summary>
    public static Tensor LogSoftmax(Tensor x, int axis = -1) => SoftmaxImpl(x, axis, log: true);

    private static Tensor SoftmaxImpl(Tensor x, int axis, bool log)
    {
        string name = log ? "log_softmax" : "softmax";
        Device.Common(name, x);
        var (outer, n, inner, _) = AxisSplit(x, axis, keepDim: true, name);
        var y = x.EmptyLike();
        SoftmaxKernels.Forward(x.ReadOnlySpan, y.Span, outer, n, inner, log);
        return Tensor.Record(name, y, new[] { x }, g =>
        {
            var dx = x.EmptyLike();
            SoftmaxKernels.Backward(y.ReadOnlySpan, g.ReadOnlySpan, dx.Span, outer, n, inner, log);
            x.AccumulateGrad(dx);
        });
    }

    /// <summary>
    /// Mean cross-entropy of logits [N, C] against class indices (length N); targets equal to
    /// <paramref name="ignoreIndex"/> are skipped and the mean is over the remaining rows (PyTorch's
    /// F.cross_entropy with reduction 'mean'). When every row is ignored the loss is NaN (0/0, as in
    /// PyTorch) and the gradient is zero. Fused: log-softmax is never materialised; the backward
    /// recomputes softmax from the saved per-row logsumexp: dlogits = g·(softmax − onehot)/count.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, int[] targets, int ignoreIndex = -100)
    {
        const string name = "cross_entropy";
        var (n, c) = CheckCrossEntropy(name, logits, targets, ignoreIndex);
        targets = Snapshot(targets);
        var lse = new float[n];
        var rowLoss = new float[n];
        SoftmaxKernels.CrossEntropyForward(logits.ReadOnlySpan, targets, ignoreIndex, n, c, lse, rowLoss);
        int count = 0;
        double sum = 0;
        for (int i = 0; i < n; i++)
            if (targets[i] != ignoreIndex) { count++; sum += rowLoss[i]; }
        var y = Tensor.Empty();
        y.Span[0] = count == 0 ? float.NaN : (float)(sum / count);
        return Tensor.Record(name, y, new[] { logits }, g =>
        {
            var dl = logits.EmptyLike();
            var k = new[] { count == 0 ? 0f : g.ReadOnlySpan[0] / count };
            SoftmaxKernels.CrossEntropyBackward(logits.ReadOnlySpan, targets, ignoreIndex, lse, k, scalarScale: true, n, c, dl.Span);
            logits.AccumulateGrad(dl);
        });
    }

    /// <summary>
    /// Per-row cross-entropy [N] (reduction 'none'). As in PyTorch, rows whose target is −100 (the
    /// default ignore index) get loss 0 and no gradient.
    /// </summary>
    public static Tensor CrossEntropyPerPosition(Tensor logits, int[] targets)
    {
        const string name = "cross_entropy_per_position";
        const int ignore = -100;
        var (n, c) = CheckCrossEntropy(name, logits, targets, ignore);
        targets = Snapshot(targets);
        var lse = new float[n];
        var y = Tensor.Empty(n);
        SoftmaxKernels.CrossEntropyForward(logits.ReadOnlySpan, targets, ignore, n, c, lse, y.Span);
        return Tensor.Record(name, y, new[] { logits }, g =>
        {
            var dl = logits.EmptyLike();
            SoftmaxKernels.CrossEntropyBackward(logits.ReadOnlySpan, targets, ignore, lse, g.ReadOnlySpan, scalarScale: false, n, c, dl.Span);
            logits.AccumulateGrad(dl);
        });
    }

    private static (int n, int c) CheckCrossEntropy(string name, Tensor logits, int[] targets, int ignoreIndex)
    {
        Device.Common(name, logits);
        ArgumentNullException.ThrowIfNull(targets);
        if (logits.Rank != 2)
            throw new ArgumentException($"{name}: logits must be [N, C], got {ShapeUtil.Format(logits.Shape)}");
        int n = logits.Shape[0], c = logits.Shape[1];
        if (targets.Length != n)
            throw new ArgumentException($"{name}: {targets.Length} targets for logits {ShapeUtil.Format(logits.Shape)} ({n} rows)");
        for (int i = 0; i < n; i++)
        {
            int t = targets[i];
            if (t != ignoreIndex && (uint)t >= (uint)c)
                throw new ArgumentOutOfRangeException(nameof(targets),
                    $"{name}: target {t} at row {i} is out of range for {c} classes (valid: 0..{c - 1}, or the ignore index {ignoreIndex})");
        }
        return (n, c);
    }

    // The backward closures keep their own copy: a caller may reuse its targets buffer before Backward.
    private static int[] Snapshot(int[] targets) => (int[])targets.Clone();

    /// <summary>Mean squared error mean((prediction − target)²); both inputs get gradients.</summary>
    public static Tensor MseLoss(Tensor prediction, Tensor target) => PairLoss("mse_loss", prediction, target, squared: true);

    /// <summary>Mean absolute error mean(|prediction − target|); the gradient at a tie is 0 (sign(0), as in PyTorch).</summary>
    public static Tensor L1Loss(Tensor prediction, Tensor target) => PairLoss("l1_loss", prediction, target, squared: false);

    private static Tensor PairLoss(string name, Tensor p, Tensor t, bool squared)
    {
        Device.Common(name, p, t);
        if (!ShapeUtil.SameShape(p.Shape, t.Shape))
            throw new ArgumentException($"{name}: prediction {ShapeUtil.Format(p.Shape)} and target {ShapeUtil.Format(t.Shape)} differ in shape");
        if (p.Size == 0) throw new ArgumentException($"{name}: tensors {ShapeUtil.Format(p.Shape)} are empty");
        var diff = p.EmptyLike();
        TensorPrimitives.Subtract(p.ReadOnlySpan, t.ReadOnlySpan, diff.Span);
        var ds = diff.ReadOnlySpan;
        double acc = 0;
        if (squared) for (int i = 0; i < ds.Length; i++) acc += (double)ds[i] * ds[i];
        else for (int i = 0; i < ds.Length; i++) acc += Math.Abs(ds[i]);
        var y = Tensor.Empty();
        y.Span[0] = (float)(acc / p.Size);
        return Tensor.Record(name, y, new[] { p, t }, g =>
        {
            float k = g.ReadOnlySpan[0] / p.Size * (squared ? 2f : 1f);
            var dp = diff.EmptyLike();
            var o = dp.Span;
            var dd = diff.ReadOnlySpan;
            if (squared) TensorPrimitives.Multiply(dd, k, o);
            else for (int i = 0; i < o.Length; i++) o[i] = dd[i] > 0 ? k : dd[i] < 0 ? -k : 0f;
            if (t.RequiresGrad)
            {
                var dt = dp.EmptyLike();
                TensorPrimitives.Negate(dp.ReadOnlySpan, dt.Span);
                t.AccumulateGrad(dt);
            }
            p.AccumulateGrad(dp);
        });
    }
}
