using Crt.Tensors.Kernels.Cpu;

namespace Crt.Tensors;

/// <summary>GroupNorm (optionally fused with swish), BatchNorm2d, LayerNorm and RMSNorm, each with its fused backward.</summary>
public static partial class Ops
{
    /// <summary>GroupNorm over [N, C, ...]; with <paramref name="swish"/> the output is fused with x·σ(x).</summary>
    public static Tensor GroupNorm(Tensor x, int groups, Tensor? weight, Tensor? bias, float eps = 1e-5f, bool swish = false)
    {
        string name = swish ? "group_norm_silu" : "group_norm";
        Device.Common(name, NormInputs(x, weight, bias));
        if (x.Rank < 2) throw new ArgumentException($"{name}: input {ShapeUtil.Format(x.Shape)} must be [N, C, ...]");
        int n = x.Shape[0], c = x.Shape[1];
        if (groups <= 0 || c % groups != 0)
            throw new ArgumentException($"{name}: input {ShapeUtil.Format(x.Shape)}: {c} channels cannot be split into {groups} groups");
        CheckNormParam(name, "weight", weight, c, x);
        CheckNormParam(name, "bias", bias, c, x);
        int s = n * c == 0 ? 0 : x.Size / (n * c);
        var y = x.EmptyLike();
        var mean = new double[n * groups];
        var rstd = new float[n * groups];
        if (x.Size > 0)
            NormKernels.GroupNormForward(x.ReadOnlySpan, n, c, s, groups, NormSpan(weight), NormSpan(bias), eps, swish, y.Span, mean, rstd);
        return Tensor.Record(name, y, new[] { x, weight, bias }, g =>
        {
            // When x already holds a gradient (a residual branch got there first), the kernel adds into it
            // in place, which is what AccumulateGrad would do, minus a full extra pass over memory.
            bool accumulate = x.RequiresGrad && x.Grad is { } eg && ShapeUtil.SameShape(eg.Shape, x.Shape);
            var dx = !x.RequiresGrad ? null : accumulate ? x.Grad! : x.EmptyLike();
            var dw = weight is { RequiresGrad: true } ? weight.EmptyLike() : null;
            var db = bias is { RequiresGrad: true } ? bias.EmptyLike() : null;
            if (x.Size > 0)
                NormKernels.GroupNormBackward(x.ReadOnlySpan, g.ReadOnlySpan, n, c, s, groups, NormSpan(weight), NormSpan(bias), mean, rstd, swish,
                    dx is null ? default : dx.Span, dw is null ? default : dw.Span, db is null ? default : db.Span, accumulate);
            else { dw?.Span.Clear(); db?.Span.Clear(); }
            if (dx is not null && !accumulate) x.AccumulateGrad(dx);
            if (dw is not null) weight!.AccumulateGrad(dw);
            if (db is not null) bias!.AccumulateGrad(db);
        });
    }

    /// <summary>BatchNorm over [N, C, H, W]. Training uses batch statistics and updates the running ones (unbiased variance, as PyTorch).</summary>
    public static Tensor BatchNorm2d(Tensor x, Tensor? weight, Tensor? bias, Tensor runningMean, Tensor runningVar, bool training, float momentum = 0.1f, float eps = 1e-5f)
    {
        const string name = "batch_norm";
        Device.Common(name, NormInputs(x, weight, bias, runningMean, runningVar));
        if (x.Rank != 4) throw new ArgumentException($"{name}: input {ShapeUtil.Format(x.Shape)} must be [N, C, H, W]");
        int n = x.Shape[0], c = x.Shape[1], s = x.Shape[2] * x.Shape[3];
        CheckNormParam(name, "weight", weight, c, x);
        CheckNormParam(name, "bias", bias, c, x);
        CheckNormParam(name, "running mean", runningMean, c, x);
        CheckNormParam(name, "running variance", runningVar, c, x);
        long count = (long)n * s;
        var mean = new float[c];     // float head of each channel mean
        var meanLo = new float[c];   // and the remainder (nonzero only for batch statistics)
        var rstd = new float[c];
        if (training)
        {
            if (count <= 1)
                throw new ArgumentException($"{name}: input {ShapeUtil.Format(x.Shape)}: training needs more than one value per channel");
            var mu = new double[c];
            var variance = new double[c];
            NormKernels.ChannelMoments(x.ReadOnlySpan, n, c, s, mu, variance);
            var rm = runningMean.Span;
            var rv = runningVar.Span;
            for (int ch = 0; ch < c; ch++)
            {
                (mean[ch], meanLo[ch]) = NormKernels.Split(mu[ch]);
                rstd[ch] = (float)(1.0 / Math.Sqrt(variance[ch] + eps));
                // running = (1 − m)·running + m·batch statistic, with the unbiased variance
                rm[ch] = (float)((1.0 - momentum) * rm[ch] + momentum * mu[ch]);
                rv[ch] = (float)((1.0 - momentum) * rv[ch] + momentum * variance[ch] * count / (count - 1));
            }
        }
        else
        {
            var rm = runningMean.ReadOnlySpan;
            var rv = runningVar.ReadOnlySpan;
            for (int ch = 0; ch < c; ch++)
            {
                mean[ch] = rm[ch];
                rstd[ch] = (float)(1.0 / Math.Sqrt(rv[ch] + (double)eps));
            }
        }
        var scale = new float[c];
        var shift = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            scale[ch] = weight is null ? rstd[ch] : rstd[ch] * weight.ReadOnlySpan[ch];
            shift[ch] = (bias is null ? 0f : bias.ReadOnlySpan[ch]) - meanLo[ch] * scale[ch];
        }
        var y = x.EmptyLike();
        if (x.Size > 0) NormKernels.ChannelAffine(x.ReadOnlySpan, n, c, s, mean, scale, shift, y.Span);
        return Tensor.Record(name, y, new[] { x, weight, bias }, g =>
        {
            var sdy = new double[c];
            var sdyx = new double[c];
            if (x.Size > 0) NormKernels.ChannelGradSums(x.ReadOnlySpan, g.ReadOnlySpan, n, c, s, mean, sdy, sdyx);
            for (int ch = 0; ch < c; ch++) sdyx[ch] -= meanLo[ch] * sdy[ch]; // Σdy·(x − mean) from Σdy·(x − head)
            if (x.RequiresGrad)
            {
                var dx = x.EmptyLike();
                var b = new float[c];
                var cc = new float[c];
                if (training)
                    for (int ch = 0; ch < c; ch++)
                    {
                        // dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·w, x̂ = (x − mean)·r
                        double r = rstd[ch], w = weight is null ? 1.0 : weight.ReadOnlySpan[ch];
                        b[ch] = (float)(-r * r * r * w * sdyx[ch] / count);
                        cc[ch] = (float)(-r * w * sdy[ch] / count - b[ch] * (double)meanLo[ch]);
                    }
                if (x.Size > 0) NormKernels.ChannelLinear(g.ReadOnlySpan, x.ReadOnlySpan, n, c, s, mean, scale, b, cc, dx.Span);
                x.AccumulateGrad(dx);
            }
            if (weight is { RequiresGrad: true })
            {
                var dw = weight.EmptyLike();
                for (int ch = 0; ch < c; ch++) dw.Span[ch] = (float)(rstd[ch] * sdyx[ch]);
                weight.AccumulateGrad(dw);
            }
            if (bias is { RequiresGrad: true })
            {
                var db = bias.EmptyLike();
                for (int ch = 0; ch < c; ch++) db.Span[ch] = (float)sdy[ch];
                bias.AccumulateGrad(db);
            }
        });
    }

    /// <summary>LayerNorm over the last dim.</summary>
    public static Tensor LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps = 1e-5f) => RowNorm("layer_norm", x, weight, bias, eps, rms: false);

    /// <summary>RMSNorm over the last dim: x / sqrt(mean(x²) + eps) · weight.</summary>
    public static Tensor RmsNorm(Tensor x, Tensor? weight, float eps = 1e-5f) => RowNorm("rms_norm", x, weight, null, eps, rms: true);

    private static Tensor RowNorm(string name, Tensor x, Tensor? weight, Tensor? bias, float eps, bool rms)
    {
        Device.Common(name, NormInputs(x, weight, bias));
        if (x.Rank == 0) throw new ArgumentException($"{name}: input is a scalar; it needs a last dim to normalize over");
        int d = x.Shape[^1];
        CheckNormParam(name, "weight", weight, d, x);
        CheckNormParam(name, "bias", bias, d, x);
        int rows = d == 0 ? 0 : x.Size / d;
        var mean = new double[rows];
        var rstd = new float[rows];
        var y = x.EmptyLike();
        if (x.Size > 0) NormKernels.RowNormForward(x.ReadOnlySpan, rows, d, NormSpan(weight), NormSpan(bias), eps, rms, y.Span, mean, rstd);
        return Tensor.Record(name, y, new[] { x, weight, bias }, g =>
        {
            bool accumulate = x.RequiresGrad && x.Grad is { } eg && ShapeUtil.SameShape(eg.Shape, x.Shape); // as in GroupNorm
            var dx = !x.RequiresGrad ? null : accumulate ? x.Grad! : x.EmptyLike();
            var dw = weight is { RequiresGrad: true } ? weight.EmptyLike() : null;
            var db = bias is { RequiresGrad: true } ? bias.EmptyLike() : null;
            if (x.Size > 0)
                NormKernels.RowNormBackward(x.ReadOnlySpan, g.ReadOnlySpan, rows, d, NormSpan(weight), mean, rstd, rms,
                    dx is null ? default : dx.Span, dw is null ? default : dw.Span, db is null ? default : db.Span, accumulate);
            else { dw?.Span.Clear(); db?.Span.Clear(); }
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

    private static ReadOnlySpan<float> NormSpan(Tensor? t) => t is null ? default : t.ReadOnlySpan;

    private static Tensor[] NormInputs(params Tensor?[] ts) => ts.Where(t => t is not null).ToArray()!;
}
