using Crt.Tensors.Nn;
using Crt.Tensors.Optim;
using Xunit;

namespace Crt.Tensors.Tests;

/// <summary>
/// The GPU backend's kernels, run where there is no GPU: on the "ilgpu-cpu" device, ILGPU's CPU accelerator executes the
/// same C# kernel source that ILGPU compiles to PTX for "cuda". Every op here runs forward and backward on that device
/// and is compared with the CPU backend, and its gradient with central finite differences (through To(), which is taped,
/// so the CPU leaves receive the device's gradients). Shapes are small: the CPU accelerator runs each GPU thread as a
/// managed thread, and each launch costs milliseconds.
/// </summary>
public class IlgpuBackendTests
{
    private static readonly Device Gpu = Device.Parse("ilgpu-cpu");

    /// <summary>An op under test: how to build its output from inputs of the given shapes (and how to make those inputs).</summary>
    public sealed record Case(string Name, Func<Tensor[], Tensor> F, int[][] Shapes, bool Positive = false, double Tolerance = 2e-5);

    private static readonly int[] Targets = [3, -100, 0, 4, 1, 2];
    private static readonly int[] Indices = [2, 0, 2, 1];

    private static readonly Case[] All =
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
        new("abs", x => Ops.Abs(x[0]), [[7]]),
        new("pow", x => Ops.Pow(x[0], 2.5f), [[7]], Positive: true),
        new("clamp", x => Ops.Clamp(x[0], -0.5f, 0.5f), [[9]]),
        new("silu", x => Ops.Silu(x[0]), [[9]]),
        new("sigmoid", x => Ops.Sigmoid(x[0]), [[9]]),
        new("tanh", x => Ops.Tanh(x[0]), [[9]]),
        new("relu", x => Ops.Relu(x[0]), [[9]]),
        new("leaky_relu", x => Ops.LeakyRelu(x[0], 0.2f), [[9]]),
        new("gelu", x => Ops.Gelu(x[0]), [[9]], Tolerance: 1e-5 * 5),
        new("gelu_tanh", x => Ops.Gelu(x[0], tanhApproximation: true), [[9]]),
        new("sum", x => Ops.Sum(x[0]), [[3, 5]]),
        new("mean", x => Ops.Mean(x[0]), [[3, 5]]),
        new("sum_axis", x => Ops.Sum(x[0], 1), [[2, 3, 4]]),
        new("mean_axis_keepdim", x => Ops.Mean(x[0], 0, keepDim: true), [[3, 4]]),
        new("max_axis", x => Ops.Max(x[0], -1), [[3, 5]]),
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
        new("l1_loss", x => Ops.L1Loss(x[0], x[1]), [[3, 4], [3, 4]]),
        new("layer_norm", x => Ops.LayerNorm(x[0], x[1], x[2]), [[3, 8], [8], [8]]),
        new("rms_norm", x => Ops.RmsNorm(x[0], x[1]), [[3, 8], [8]]),
        new("attention", x => Ops.ScaledDotProductAttention(x[0], x[1], x[2], causal: false), [[1, 2, 3, 4], [1, 2, 5, 4], [1, 2, 5, 4]]),
        new("attention_causal", x => Ops.ScaledDotProductAttention(x[0], x[1], x[2], causal: true), [[2, 1, 4, 4], [2, 1, 4, 4], [2, 1, 4, 4]]),
        new("rotary", x => Ops.ApplyRotaryEmbedding(x[0], Ops.Rope2dTable(2, 4, clsTokenNum: 0).To(x[0].Device)), [[1, 4, 2, 4]]),
    ];

    public static TheoryData<string> Names()
    {
        var d = new TheoryData<string>();
        foreach (var c in All) d.Add(c.Name);
        return d;
    }

    private static Tensor[] Inputs(Case c, ulong seed)
    {
        var rng = new Rng(seed);
        return c.Shapes.Select(s =>
        {
            var t = rng.Normal(s);
            if (c.Positive) t = Ops.AddScalar(Ops.Abs(t), 0.5f);
            t = t.Detach().Clone();
            t.RequiresGrad = true;
            return t;
        }).ToArray();
    }

    /// <summary>f evaluated on the device: the inputs copied there, the output copied back (both copies taped).</summary>
    private static Func<Tensor[], Tensor> OnGpu(Case c) => xs => c.F(xs.Select(x => x.To(Gpu)).ToArray()).To(Device.Cpu);

    [Theory]
    [MemberData(nameof(Names))]
    public void ForwardAndBackwardMatchTheCpuBackend(string name)
    {
        var c = All.Single(x => x.Name == name);
        var cpuIn = Inputs(c, 7);
        var gpuIn = Inputs(c, 7);
        var yCpu = c.F(cpuIn);
        var yGpu = OnGpu(c)(gpuIn);
        Assert.Equal(yCpu.Shape, yGpu.Shape);
        Assert.Equal(Device.Cpu, yGpu.Device);
        Parity.AssertClose(yCpu, yGpu, c.Tolerance, $"{name} forward");

        var upstream = new Rng(11).Normal(yCpu.Shape);
        yCpu.Backward(upstream);
        yGpu.Backward(upstream);
        for (int i = 0; i < cpuIn.Length; i++)
            Parity.AssertClose(cpuIn[i].Grad!, gpuIn[i].Grad!, c.Tolerance * 5, $"{name} gradient of input {i}");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void GradientsMatchFiniteDifferences(string name)
    {
        var c = All.Single(x => x.Name == name);
        if (name is "abs" or "clamp" or "relu" or "leaky_relu" or "max_axis" or "l1_loss") return; // kinks: checked by parity above
        GradCheck.Check(OnGpu(c), Inputs(c, 3), maxProbes: 8, label: name);
    }

    [Fact]
    public void ADeviceTensorIsNotReadOnTheHostByAccident()
    {
        var t = Tensor.From([1f, 2f, 3f], 3).To(Gpu);
        var e = Assert.Throws<InvalidOperationException>(() => t.Span[0]);
        Assert.Contains("lives on ilgpu-cpu", e.Message);
        Assert.Contains("To(Device.Cpu)", e.Message);
        Assert.Equal([1f, 2f, 3f], t.ToArray());
        Assert.Equal(2f, Ops.Slice(t, 0, 1, 2).Item());
    }

    /// <summary>A backend that implements nothing: every entry it lacks is an error naming the entry and the device.</summary>
    private sealed class EmptyKernelTable : Crt.Tensors.Backends.KernelTable
    {
        public override string DeviceName => "test-device";
    }

    [Fact]
    public void AnEntryWithoutAKernelIsAnErrorThatNamesIt()
    {
        var table = new EmptyKernelTable();
        var geom = Crt.Tensors.Kernels.Cpu.ConvGeom.Create(1, 1, 4, 4, 1, 3, 3, 1, 0, 0, 0, 0);
        var e = Assert.Throws<NotSupportedException>(() => table.Conv2d(geom, Tensor.Zeros(1, 1, 4, 4), Tensor.Zeros(1, 1, 3, 3), null, Tensor.Zeros(1, 1, 2, 2)));
        Assert.StartsWith("conv2d: no kernel for device test-device", e.Message);
        e = Assert.Throws<NotSupportedException>(() => table.DropoutMask(Tensor.Zeros(4), 0.5f, new Rng(1)));
        Assert.StartsWith("dropout: no kernel for device test-device", e.Message);
    }

    [Fact]
    public void InputsOnDifferentDevicesAreRefused()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Ops.Add(Tensor.Zeros(2), Tensor.Zeros(2).To(Gpu)));
        Assert.Contains("different devices (cpu and ilgpu-cpu)", e.Message);
    }

    [Fact]
    public void ACudaDeviceThatIsNotThereIsOneSentence()
    {
        if (Crt.Tensors.Cuda.CudaDriverProbe.Probe().Devices.Count > 0) return; // a machine with a GPU: nothing to refuse
        var e = Assert.Throws<ArgumentException>(() => Device.Parse("cuda:0"));
        Assert.StartsWith("device 'cuda:0' is not available: ", e.Message);
        Assert.Throws<ArgumentException>(() => Device.Parse("tpu"));
    }

    /// <summary>A module moved to the device trains as on the CPU: two AdamW steps with clipping, in and out of a scope.</summary>
    [Fact]
    public void AModuleMovedToTheDeviceTrainsAsOnTheCpu()
    {
        float[] Train(Device device, out float[] moment)
        {
            Rng.Default.Reseed(5);
            var model = new Linear(6, 3);
            model.To(device);
            var opt = new AdamW(model.NamedParameters(), lr: 0.05, weightDecay: 0.1);
            var rng = new Rng(9);
            var x = rng.Normal([4, 6]).To(device);
            int[] labels = [0, 2, 1, 2];
            for (int step = 0; step < 2; step++)
                using (TensorScope.Begin())
                {
                    opt.ZeroGrad();
                    var loss = Ops.CrossEntropy(model.Forward(x), labels);
                    loss.Backward();
                    GradClip.ClipGradNorm(model.Parameters(), 0.5);
                    opt.Step();
                }
            moment = opt.Moments("weight")!.Value.ExpAvgSq;
            Assert.Equal(device, model.Weight.Device);
            return model.Weight.ToArray();
        }
        var cpu = Train(Device.Cpu, out var mCpu);
        var gpu = Train(Gpu, out var mGpu);
        Parity.AssertClose(Tensor.FromArray(cpu, cpu.Length), Tensor.FromArray(gpu, gpu.Length), 1e-5, "weights after two steps");
        Parity.AssertClose(Tensor.FromArray(mCpu, mCpu.Length), Tensor.FromArray(mGpu, mGpu.Length), 1e-5, "second moments");
    }
}
