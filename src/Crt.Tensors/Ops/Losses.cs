using Crt.Tensors.Backends;

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
        var k = x.Device.Kernels;
        var (outer, n, inner, _) = AxisSplit(x, axis, keepDim: true, name);
        var y = x.EmptyLike();
        k.Softmax(x, y, outer, n, inner, log);
        return Tensor.Record(name, y, new[] { x }, g =>
        {
            var dx = x.EmptyLike();
            k.SoftmaxBackward(y, g, dx, outer, n, inner, log);
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
        CheckCrossEntropy(name, logits, targets, ignoreIndex);
        var k = logits.Device.Kernels;
        var y = Tensor.Empty(logits.Device);
        var saved = k.CrossEntropy(logits, Snapshot(targets), ignoreIndex, mean: true, y);
        return Tensor.Record(name, y, new[] { logits }, g =>
        {
            var dl = logits.EmptyLike();
            k.CrossEntropyBackward(saved, logits, g, mean: true, dl);
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
        var (n, _) = CheckCrossEntropy(name, logits, targets, ignore);
        var k = logits.Device.Kernels;
        var y = Tensor.Empty(logits.Device, n);
        var saved = k.CrossEntropy(logits, Snapshot(targets), ignore, mean: false, y);
        return Tensor.Record(name, y, new[] { logits }, g =>
        {
            var dl = logits.EmptyLike();
            k.CrossEntropyBackward(saved, logits, g, mean: false, dl);
            logits.AccumulateGrad(dl);
        });
    }

    private static (int n, int c) CheckCrossEntropy(string name, Tensor logits, int[] targets, int ignoreIndex)
    {
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
        var k = Device.KernelsOf(name, p, t);
        if (!ShapeUtil.SameShape(p.Shape, t.Shape))
            throw new ArgumentException($"{name}: prediction {ShapeUtil.Format(p.Shape)} and target {ShapeUtil.Format(t.Shape)} differ in shape");
        if (p.Size == 0) throw new ArgumentException($"{name}: tensors {ShapeUtil.Format(p.Shape)} are empty");
        var diff = p.EmptyLike();
        var y = Tensor.Empty(p.Device);
        k.PairLoss(p, t, squared, diff, y);
        return Tensor.Record(name, y, new[] { p, t }, g =>
        {
            var dp = diff.EmptyLike();
            k.PairLossBackward(diff, g, squared, dp);
            if (t.RequiresGrad)
            {
                var dt = dp.EmptyLike();
                k.Unary(UnaryOp.MulScalar, dp, dt, -1f);
                t.AccumulateGrad(dt);
            }
            p.AccumulateGrad(dp);
        });
    }
}
