namespace Crt.Tensors.Backends;

/// <summary>The image and normalisation ops of <see cref="BackendParity"/>: convolution, pooling, padding, resizing, norms, gather.</summary>
public static partial class BackendParity
{
    /// <summary>Running statistics on the inputs' device (fresh each call: training updates them).</summary>
    private static Tensor BatchNormOp(Tensor[] x, bool training)
    {
        var rm = Tensor.FromArray([0.1f, -0.2f, 0.3f], 3).To(x[0].Device);
        var rv = Tensor.FromArray([0.5f, 1.5f, 2f], 3).To(x[0].Device);
        return Ops.BatchNorm2d(x[0], x[1], x[2], rm, rv, training, momentum: 0.2f);
    }

    private static readonly int[] GatherIndex = [0, 2, 2, 3, 3, 1, 1, 0, 1];

    private static readonly Case[] ImageCases =
    [
        new("group_norm", x => Ops.GroupNorm(x[0], 2, x[1], x[2]), [[2, 4, 3], [4], [4]]),
        new("group_norm_silu", x => Ops.GroupNorm(x[0], 2, x[1], x[2], swish: true), [[2, 4, 2, 2], [4], [4]]),
        new("group_norm_no_affine", x => Ops.GroupNorm(x[0], 1, null, null), [[2, 3, 4]]),
        // x's gradient from the residual arrives first, so the GroupNorm backward adds into it (the accumulate path)
        new("group_norm_silu_residual", x => Ops.Add(Ops.GroupNorm(x[0], 2, x[1], x[2], swish: true), x[0]), [[2, 4, 3], [4], [4]]),
        new("conv2d", x => Ops.Conv2d(x[0], x[1], x[2], stride: 1, padding: 1), [[2, 3, 5, 5], [4, 3, 3, 3], [4]], Tolerance: 5e-5),
        new("conv2d_stride2_asymmetric", x => Ops.Conv2d(x[0], x[1], null, 2, new Padding2d(1, 0, 2, 1)), [[2, 2, 6, 5], [3, 2, 3, 3]], Tolerance: 5e-5),
        new("conv2d_stride2_bias_2x3", x => Ops.Conv2d(x[0], x[1], x[2], 2, new Padding2d(0, 1, 1, 0)), [[1, 2, 5, 6], [2, 2, 2, 3], [2]], Tolerance: 5e-5),
        new("conv2d_pointwise", x => Ops.Conv2d(x[0], x[1], x[2]), [[2, 3, 3, 4], [5, 3, 1, 1], [5]], Tolerance: 5e-5),
        new("pad2d", x => Ops.Pad2d(x[0], new Padding2d(1, 2, 0, 3), 0.5f), [[2, 3, 4]]),
        new("pad2d_crop", x => Ops.Pad2d(x[0], new Padding2d(-1, 1, 2, -2)), [[1, 2, 4, 5]]),
        new("upsample_nearest2x", x => Ops.UpsampleNearest2x(x[0]), [[1, 2, 3, 2]]),
        new("max_pool", x => Ops.MaxPool2d(x[0], 3, 2, 1), [[1, 2, 6, 5]], Kinked: true),
        new("max_pool_overlapping", x => Ops.MaxPool2d(x[0], 2, 1), [[2, 1, 4, 3]], Kinked: true),
        new("avg_pool_count_pad", x => Ops.AvgPool2d(x[0], 3, 2, 1, countIncludePad: true), [[1, 2, 5, 6]]),
        new("avg_pool_exclude_pad", x => Ops.AvgPool2d(x[0], 3, 2, 1, countIncludePad: false), [[1, 2, 5, 6]]),
        new("avg_pool_overlapping", x => Ops.AvgPool2d(x[0], 2, 1), [[1, 2, 3, 4]]),
        new("resize_bilinear_up", x => Ops.ResizeBilinear(x[0], 7, 5), [[1, 2, 3, 4]]),
        new("resize_bilinear_down", x => Ops.ResizeBilinear(x[0], 2, 3), [[1, 2, 5, 7]]),
        new("batch_norm_training", x => BatchNormOp(x, training: true), [[2, 3, 2, 2], [3], [3]], Tolerance: 5e-5),
        new("batch_norm_eval", x => BatchNormOp(x, training: false), [[2, 3, 2, 2], [3], [3]]),
        new("l2_normalize_middle", x => Ops.L2Normalize(x[0], 1), [[2, 4, 3]]),
        new("l2_normalize_last", x => Ops.L2Normalize(x[0]), [[3, 5]]),
        new("gather", x => Ops.Gather(x[0], 1, GatherIndex, [3, 3]), [[3, 4]]),
    ];
}
