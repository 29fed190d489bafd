using ILGPU;
using ILGPU.Runtime;

namespace Crt.Tensors.Backends.Ilgpu;

/// <summary>The ILGPU device's GroupNorm, BatchNorm and L2 normalisation (kernels in <see cref="GpuNormKernels"/>).</summary>
internal sealed partial class IlgpuKernelTable
{
    // ---- GroupNorm ------------------------------------------------------------------------------------

    /// <summary>GroupNorm's statistics: [hi, lo, rstd] rows of n·groups (see <see cref="GpuNormKernels"/>).</summary>
    private sealed record GroupStats(Tensor Stats);

    private static NormShape GroupShape(int n, int c, int s, int groups, Tensor? weight, Tensor? bias, bool swish) => new()
    {
        N = n, C = c, S = s, Groups = groups, HasW = weight is null ? 0 : 1, HasB = bias is null ? 0 : 1, Swish = swish ? 1 : 0,
    };

    public override object GroupNorm(Tensor x, int n, int c, int s, int groups, Tensor? weight, Tensor? bias, float eps, bool swish, Tensor y)
    {
        var stats = new GroupStats(Tensor.Empty(Dev, Math.Max(3 * n * groups, 1)));
        if (x.Size == 0) return stats;
        var shape = GroupShape(n, c, s, groups, weight, bias, swish) with { Eps = eps };
        var l = L(n * groups);
        Launcher(GpuNormKernels.GroupNormStats)(l.Threads, V(x), V(stats.Stats), shape, l);
        l = L(x.Size);
        Launcher(GpuNormKernels.GroupNormApply)(l.Threads, V(x), VOrDummy(weight), VOrDummy(bias), V(stats.Stats), V(y), shape, l);
        return stats;
    }

    public override void GroupNormBackward(object saved, Tensor x, Tensor g, int n, int c, int s, int groups, Tensor? weight, Tensor? bias, bool swish,
        Tensor? dx, Tensor? dw, Tensor? db, bool accumulate)
    {
        var stats = ((GroupStats)saved).Stats;
        if (x.Size == 0)
        {
            if (dw is not null) Fill(dw, 0f);
            if (db is not null) Fill(db, 0f);
            return;
        }
        using var scope = TensorScope.Begin();
        var shape = GroupShape(n, c, s, groups, weight, bias, swish) with
        {
            Accumulate = accumulate ? 1 : 0, WantDw = dw is null ? 0 : 1, WantDb = db is null ? 0 : 1,
        };
        var sums = Tensor.Empty(Dev, 2 * n * c); // Σdh and Σdh·(x − mean) per (n, channel)
        var l = L(n * c);
        Launcher(GpuNormKernels.GroupNormChannelSums)(l.Threads, V(x), V(g), VOrDummy(weight), VOrDummy(bias), V(stats), V(sums), shape, l);
        if (dx is not null)
        {
            l = L(x.Size);
            Launcher(GpuNormKernels.GroupNormInputGrad)(l.Threads, V(x), V(g), VOrDummy(weight), VOrDummy(bias), V(stats), V(sums), V(dx), shape, l);
        }
        if (dw is not null || db is not null)
        {
            l = L(c);
            Launcher(GpuNormKernels.GroupNormParamGrads)(l.Threads, V(stats), V(sums), VOrDummy(dw), VOrDummy(db), shape, l);
        }
    }

    // ---- BatchNorm ------------------------------------------------------------------------------------

    /// <summary>BatchNorm's per-channel [hi, lo, rstd, scale, shift] rows.</summary>
    private sealed record BatchStats(Tensor Saved);

    public override object BatchNorm(Tensor x, int n, int c, int s, Tensor? weight, Tensor? bias, Tensor runningMean, Tensor runningVar,
        bool training, float momentum, float eps, Tensor y)
    {
        var saved = new BatchStats(Tensor.Empty(Dev, Math.Max(5 * c, 1)));
        if (c == 0) return saved;
        var shape = new NormShape
        {
            N = n, C = c, S = s, HasW = weight is null ? 0 : 1, HasB = bias is null ? 0 : 1, Training = training ? 1 : 0, Eps = eps, Momentum = momentum,
        };
        var l = L(c);
        Launcher(GpuNormKernels.BatchNormStats)(
            l.Threads, x.Size == 0 ? V(Dummy) : V(x), VOrDummy(weight), VOrDummy(bias), V(runningMean), V(runningVar), V(saved.Saved), shape, l);
        if (x.Size == 0) return saved;
        l = L(x.Size);
        Launcher(GpuNormKernels.BatchNormApply)(l.Threads, V(x), V(saved.Saved), V(y), shape, l);
        return saved;
    }

    public override void BatchNormBackward(object saved, Tensor x, Tensor g, int n, int c, int s, Tensor? weight, bool training,
        Tensor? dx, Tensor? dw, Tensor? db)
    {
        var stats = ((BatchStats)saved).Saved;
        if (c == 0) return;
        using var scope = TensorScope.Begin();
        var shape = new NormShape
        {
            N = n, C = c, S = s, HasW = weight is null ? 0 : 1, Training = training ? 1 : 0, WantDw = dw is null ? 0 : 1, WantDb = db is null ? 0 : 1,
        };
        var coef = Tensor.Empty(Dev, 2 * c);
        var l = L(c);
        Launcher(GpuNormKernels.BatchNormGradSums)(
            l.Threads, x.Size == 0 ? V(Dummy) : V(x), g.Size == 0 ? V(Dummy) : V(g), VOrDummy(weight), V(stats), V(coef), VOrDummy(dw), VOrDummy(db), shape, l);
        if (dx is null || x.Size == 0) return;
        l = L(x.Size);
        Launcher(GpuNormKernels.BatchNormInputGrad)(l.Threads, V(x), V(g), V(stats), V(coef), V(dx), shape, l);
    }

    // ---- L2 normalisation ----------------------------------------------------------------------------

    public override object L2Normalize(Tensor x, int outer, int n, int inner, float eps, Tensor y)
    {
        var norms = Tensor.Empty(Dev, Math.Max(outer * inner, 1)); // max(‖x‖, eps) per vector
        var l = L((long)outer * inner, p: eps, i0: n, i1: inner);
        if (l.N > 0 && n > 0)
            Launcher(GpuNormKernels.L2Normalize)(l.Threads, V(x), V(norms), V(y), l);
        return norms;
    }

    public override void L2NormalizeBackward(object saved, Tensor g, Tensor y, Tensor x, int outer, int n, int inner, float eps, Tensor dx)
    {
        var l = L((long)outer * inner, p: eps, i0: n, i1: inner);
        if (l.N == 0 || n == 0) return;
        Launcher(GpuNormKernels.L2NormalizeBackward)(l.Threads, V(g), V(y), V(x), V((Tensor)saved), V(dx), l);
    }
}
