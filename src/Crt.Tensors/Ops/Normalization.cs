namespace Crt.Tensors;

/// <summary>GroupNorm (optionally fused with swish), BatchNorm2d, LayerNorm and RMSNorm, each with its fused backward.</summary>
public static partial class Ops
{
    /// <summary>GroupNorm over [N, C, ...]; with <paramref name="swish"/> the output is fused with x·σ(x).</summary>
    public static Tensor GroupNorm(Tensor x, int groups, Tensor? weight, Tensor? bias, float eps = 1e-5f, bool swish = false)
    {
        string name = swish ? "group_norm_silu" : "group_norm";
        var k = Device.KernelsOf(name, x, weight, bias);
        if (x.Rank < 2) throw new ArgumentException($"{name}: input {ShapeUtil.Format(x.Shape)} must be [N, C, ...]");
        int n = x.Shape[0], c = x.Shape[1];
        if (groups <= 0 || c % groups != 0)
            throw new ArgumentException($"{name}: input {ShapeUtil.Format(x.Shape)}: {c} channels cannot be split into {groups} groups");
        CheckNormParam(name, "weight", weight, c, x);
        CheckNormParam(name, "bias", bias, c, x);
        int s = n * c == 0 ? 0 : x.Size / (n * c);
        var y = x.EmptyLike();
        var stats = k.GroupNorm(x, n, c, s, groups, weight, bias, eps, swish, y);
        return Tensor.Record(name, y, new[] { x, weight, bias }, g =>
        {
            // When x already holds a gradient (a residual branch got there first), the kernel adds into it
            // in place, which is what AccumulateGrad would do, minus a full extra pass over memory.
            bool accumulate = x.RequiresGrad && x.Grad is { } eg && ShapeUtil.SameShape(eg.Shape, x.Shape);
            var dx = !x.RequiresGrad ? null : accumulate ? x.Grad! : x.EmptyLike();
            var dw = weight is { RequiresGrad: true } ? weight.EmptyLike() : null;
            var db = bias is { RequiresGrad: true } ? bias.EmptyLike() : null;
            k.GroupNormBackward(stats, x, g, n, c, s, groups, weight, bias, swish, dx, dw, db, accumulate);
            if (dx is not null && !accumulate) x.AccumulateGrad(dx);
            if (dw is not null) weight!.AccumulateGrad(dw);
            if (db is not null) bias!.AccumulateGrad(db);
        });
    }

    /// <summary>BatchNorm over [N, C, H, W]. Training uses batch statistics and updates the running ones (unbiased variance, as PyTorch).</summary>
    public static Tensor BatchNorm2d(Tensor x, Tensor? weight, Tensor? bias, Tensor runningMean, Tensor runningVar, bool training, float momentum = 0.1f, float eps = 1e-5f)
    {
        const string name = "batch_norm";
        var k = Device.KernelsOf(name, x, weight, bias, runningMean, runningVar);
        if (x.Rank != 4) throw new ArgumentException($"{name}: input {ShapeUtil.Format(x.Shape)} must be [N, C, H, W]");
        int n = x.Shape[0], c = x.Shape[1], s = x.Shape[2] * x.Shape[3];
        CheckNormParam(name, "weight", weight, c, x);
        CheckNormParam(name, "bias", bias, c, x);
        CheckNormParam(name, "running mean", runningMean, c, x);
        CheckNormParam(name, "running variance", runningVar, c, x);
        if (training && (long)n * s <= 1)
            throw new ArgumentException($"{name}: input {ShapeUtil.Format(x.Shape)}: training needs more than one value per channel");
        var y = x.EmptyLike();
        var saved = k.BatchNorm(x, n, c, s, weight, bias, runningMean, runningVar, training, momentum, eps, y);
        return Tensor.Record(name, y, new[] { x, weight, bias }, g =>
        {
            var dx = x.RequiresGrad ? x.EmptyLike() : null;
            var dw = weight is { RequiresGrad: true } ? weight.EmptyLike() : null;
            var db = bias is { RequiresGrad: true } ? bias.EmptyLike() : null;
            k.BatchNormBackward(saved, x, g, n, c, s, weight, training, dx, dw, db);
            if (dx is not null) x.AccumulateGrad(dx);
            if (dw is not null) weight!.AccumulateGrad(dw);
            if (db is not null) bias!.AccumulateGrad(db);
        });
    }

    /// <summary>LayerNorm over the last dim.</summary>
    public static Tensor LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps = 1e-5f) => RowNorm("layer_norm", x, weight, bias, eps, rms: false);

    /// <summary>RMSNorm over the last dim: x / sqrt(mean(x²) + eps) · weight.</summary>
    public static Tensor RmsNorm(Tensor x, Tensor? weight, float eps = 1e-5f) => RowNorm("rms_norm", x, weight, null, eps, rms: true);

    private static Tensor RowNorm(string name, Tensor x, Tensor? weight, Tensor? bias, float eps, bool rms)
    {
        var k = Device.KernelsOf(name, x, weight, bias);
        if (x.Rank == 0) throw new ArgumentException($"{name}: input is a scalar; it needs a last dim to normalize over");
        int d = x.Shape[^1];
        CheckNormParam(name, "weight", weight, d, x);
        CheckNormParam(name, "bias", bias, d, x);
        int rows = d == 0 ? 0 : x.Size / d;
        var y = x.EmptyLike();
        var stats = k.RowNorm(x, rows, d, weight, bias, eps, rms, y);
        return Tensor.Record(name, y, new[] { x, weight, bias }, g =>
        {
            bool accumulate = x.RequiresGrad && x.Grad is { } eg && ShapeUtil.SameShape(eg.Shape, x.Shape); // as in GroupNorm
            var dx = !x.RequiresGrad ? null : accumulate ? x.Grad! : x.EmptyLike();
            var dw = weight is { RequiresGrad: true } ? weight.EmptyLike() : null;
            var db = bias is { RequiresGrad: true } ? bias.EmptyLike() : null;
            k.RowNormBackward(stats, x, g, rows, d, weight, rms, dx, dw, db, accumulate);
            if (dx is not null && !accumulate) x.AccumulateGrad(dx);
            if (dw is not null) weight!.AccumulateGrad(dw);
            if (db is not null) bias!.AccumulateGrad(db);
        });
    }

    private static void CheckNormParam(string op, string what, Tensor? p, int size, Tensor x)
    {
        if (p is null) return;
        if (p.Rank != 1 || p.Shape[0] != size)
            throw new ArgumentException($"{op}: {what} {ShapeUtil.Format(p.Shape)} does not match input {ShapeUtil.Format(x.Shape)} (expected [{size}])");
    }
}
