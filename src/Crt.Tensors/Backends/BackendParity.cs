namespace Crt.Tensors.Backends;

/// <summary>One op checked on a device against the CPU: the largest relative errors of its output and of its inputs' gradients.</summary>
public sealed record ParityResult(string Op, double ForwardError, double GradientError, double Tolerance, string? Problem = null)
{
    public bool Passed => Problem is null && ForwardError <= Tolerance && GradientError <= 5 * Tolerance;
}

/// <summary>
/// Every op the models use, run forward and backward on a device and on the CPU from the same inputs and the same
/// upstream gradient, compared element by element (error relative to the tensor's largest magnitude). The engine's
/// tests run it on "ilgpu-cpu"; <c>crt doctor</c> runs it on a GPU, where no test suite runs. Shapes are small.
/// </summary>
public static partial class BackendParity
{
    /// <summary>An op under test: its output from inputs of the given shapes (positive inputs where the op needs them).</summary>
    public sealed record Case(string Name, Func<Tensor[], Tensor> F, int[][] Shapes, bool Positive = false, double Tolerance = 2e-5, bool Kinked = false);

    private static readonly int[] Targets = [3, -100, 0, 4, 1, 2];
    private static readonly int[] Indices = [2, 0, 2, 1];

    /// <summary>Every case: the elementwise, reduction, layout, matrix, loss, norm and attention ops, then <see cref="ImageCases"/>.</summary>
    public static IReadOnlyList<Case> Cases => [.. CoreCases, .. ImageCases];

    private static readonly Case[] CoreCases =
    [
        new("add_broadcast", x => Ops.Add(x[0], x[1]), [[2, 3, 4], [3, 1]]),
        new("sub_broadcast", x => Ops.Sub(x[0], x[1]), [[4], [2, 3, 4]]),
        new("mul_broadcast", x => Ops.Mul(x[0], x[1]), [[2, 1, 4], [1, 3, 1]]),
        new("div", x => Ops.Div(x[0], x[1]), [[2, 3], [2, 3]], Positive: true),
        new("add_scalar", x => Ops.AddScalar(x[0], 1.5f), [[5, 3]]),
        new("mul_scalar", x => Ops.MulScalar(x[0], -2f), [[5, 3]]),
        new("exp", x => Ops.Exp(x[0]), [[7]]),
        new("log", x => Ops.Log(x[0]), [[7]], Positive: true),
        new("sqrt", x => Ops.Sqrt(x[0]), [[7]], Positive: true),
        new("square", x => Ops.Square(x[0]), [[7]]),
        new("abs", x => Ops.Abs(x[0]), [[7]], Kinked: true),
        new("pow", x => Ops.Pow(x[0], 2.5f), [[7]], Positive: true),
        new("clamp", x => Ops.Clamp(x[0], -0.5f, 0.5f), [[9]], Kinked: true),
        new("silu", x => Ops.Silu(x[0]), [[9]]),
        new("sigmoid", x => Ops.Sigmoid(x[0]), [[9]]),
        new("tanh", x => Ops.Tanh(x[0]), [[9]]),
        new("relu", x => Ops.Relu(x[0]), [[9]], Kinked: true),
        new("leaky_relu", x => Ops.LeakyRelu(x[0], 0.2f), [[9]], Kinked: true),
        new("gelu", x => Ops.Gelu(x[0]), [[9]], Tolerance: 1e-4),
        new("gelu_tanh", x => Ops.Gelu(x[0], tanhApproximation: true), [[9]]),
        new("sum", x => Ops.Sum(x[0]), [[3, 5]]),
        new("mean", x => Ops.Mean(x[0]), [[3, 5]]),
        new("sum_axis", x => Ops.Sum(x[0], 1), [[2, 3, 4]]),
        new("mean_axis_keepdim", x => Ops.Mean(x[0], 0, keepDim: true), [[3, 4]]),
        new("max_axis", x => Ops.Max(x[0], -1), [[3, 5]], Kinked: true),
        new("permute", x => Ops.Permute(x[0], 2, 0, 1), [[2, 3, 4]]),
        new("slice", x => Ops.Slice(x[0], 1, 1, 3), [[2, 4, 3]]),
        new("concat", x => Ops.Concat([x[0], x[1]], 1), [[2, 2, 3], [2, 1, 3]]),
        new("index_select", x => Ops.IndexSelect(x[0], 1, Indices), [[2, 3, 2]]),
        new("embedding", x => Ops.Embedding(x[0], Indices, [2, 2]), [[3, 5]]),
        new("matmul", x => Ops.MatMul(x[0], x[1]), [[3, 4], [4, 5]]),
        new("matmul_batched", x => Ops.MatMul(x[0], x[1]), [[2, 3, 4], [2, 4, 5]]),
        new("matmul_shared_b", x => Ops.MatMul(x[0], x[1]), [[2, 3, 4], [4, 5]]),
        new("matmul_shared_a", x => Ops.MatMul(x[0], x[1]), [[3, 4], [2, 4, 5]]),
        new("linear_bias", x => Ops.Linear(x[0], x[1], x[2]), [[2, 3, 4], [5, 4], [5]]),
        new("softmax", x => Ops.Softmax(x[0], 1), [[2, 5, 3]]),
        new("log_softmax", x => Ops.LogSoftmax(x[0]), [[4, 6]]),
        new("cross_entropy", x => Ops.CrossEntropy(x[0], Targets), [[6, 5]]),
        new("cross_entropy_per_position", x => Ops.CrossEntropyPerPosition(x[0], [3, 1, 0, 4, 1, 2]), [[6, 5]]),
        new("mse_loss", x => Ops.MseLoss(x[0], x[1]), [[3, 4], [3, 4]]),
        new("l1_loss", x => Ops.L1Loss(x[0], x[1]), [[3, 4], [3, 4]], Kinked: true),
        new("layer_norm", x => Ops.LayerNorm(x[0], x[1], x[2]), [[3, 8], [8], [8]]),
        new("rms_norm", x => Ops.RmsNorm(x[0], x[1]), [[3, 8], [8]]),
        new("attention", x => Ops.ScaledDotProductAttention(x[0], x[1], x[2], causal: false), [[1, 2, 3, 4], [1, 2, 5, 4], [1, 2, 5, 4]]),
        new("attention_causal", x => Ops.ScaledDotProductAttention(x[0], x[1], x[2], causal: true), [[2, 1, 4, 4], [2, 1, 4, 4], [2, 1, 4, 4]]),
        new("rotary", x => Ops.ApplyRotaryEmbedding(x[0], Ops.Rope2dTable(2, 4, clsTokenNum: 0).To(x[0].Device)), [[1, 4, 2, 4]]),
    ];

    /// <summary>Fresh leaf inputs for <paramref name="c"/> on the CPU, the same for the same seed.</summary>
    public static Tensor[] Inputs(Case c, ulong seed)
    {
        var rng = new Rng(seed);
        return c.Shapes.Select(s =>
        {
            Tensor t;
            using (Tensor.NoGrad())
            {
                t = rng.Normal(s);
                if (c.Positive) t = Ops.AddScalar(Ops.Abs(t), 0.5f);
                t = t.Clone();
            }
            t.RequiresGrad = true;
            return t;
        }).ToArray();
    }

    /// <summary>The op evaluated on <paramref name="device"/>: the inputs copied there and the output back (both copies taped).</summary>
    public static Func<Tensor[], Tensor> On(Device device, Case c) => xs => c.F(xs.Select(x => x.To(device)).ToArray()).To(Device.Cpu);

    /// <summary>Runs <paramref name="c"/> on the CPU and on <paramref name="device"/>, forward and backward, and compares.</summary>
    public static ParityResult Check(Device device, Case c)
    {
        try
        {
            var cpuIn = Inputs(c, 7);
            var devIn = Inputs(c, 7);
            var yCpu = c.F(cpuIn);
            var yDev = On(device, c)(devIn);
            if (!ShapeUtil.SameShape(yCpu.Shape, yDev.Shape))
                return new(c.Name, double.NaN, double.NaN, c.Tolerance, $"shape {ShapeUtil.Format(yDev.Shape)} instead of {ShapeUtil.Format(yCpu.Shape)}");
            double forward = RelativeError(yCpu, yDev);
            var upstream = new Rng(11).Normal(yCpu.Shape);
            yCpu.Backward(upstream);
            yDev.Backward(upstream);
            double gradient = 0;
            for (int i = 0; i < cpuIn.Length; i++)
            {
                if (devIn[i].Grad is null) return new(c.Name, forward, double.NaN, c.Tolerance, $"input {i} received no gradient on {device.Name}");
                gradient = Math.Max(gradient, RelativeError(cpuIn[i].Grad!, devIn[i].Grad!));
            }
            return new(c.Name, forward, gradient, c.Tolerance);
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or ArgumentException)
        {
            return new(c.Name, double.NaN, double.NaN, c.Tolerance, e.Message);
        }
    }

    /// <summary>max |a − b| / max(max |a|, 1e-6), NaN-aware (a NaN anywhere is an infinite error).</summary>
    public static double RelativeError(Tensor expected, Tensor actual)
    {
        var e = expected.ToArray();
        var a = actual.ToArray();
        double maxErr = 0, scale = 1e-6;
        for (int i = 0; i < e.Length; i++)
        {
            double err = Math.Abs((double)e[i] - a[i]);
            if (double.IsNaN(err)) err = double.IsNaN(e[i]) && double.IsNaN(a[i]) ? 0 : double.PositiveInfinity;
            maxErr = Math.Max(maxErr, err);
            scale = Math.Max(scale, Math.Abs(e[i]));
        }
        return maxErr / scale;
    }
}
