using System.Reflection;
using Crt.Tensors.Backends;
using Crt.Tensors.Backends.Ilgpu;
using Xunit;

namespace Crt.Tensors.Tests;

/// <summary>
/// What parity with the CPU (<see cref="BackendParity"/>'s image cases, run by <see cref="IlgpuBackendTests"/>) does not
/// show about the GPU backend's image and normalisation kernels and its Philox dropout: exact tie and NaN handling in
/// max-pool, BatchNorm's running statistics, Philox's published test vectors, dropout's statistics, and that the ILGPU
/// table implements every entry.
/// </summary>
public class IlgpuImageOpsTests
{
    private static readonly Device Gpu = Device.Parse("ilgpu-cpu");

    [Fact]
    public void MaxPoolPicksTheCpusWinnersExactly()
    {
        // ties (a constant plane) go to the first element of each window, NaN wins, on both backends
        var x = Tensor.FromArray([1, 1, 1, 1, float.NaN, 2, 3, 3, 3, 0, 5, 5], 1, 1, 3, 4);
        x.RequiresGrad = true;
        var xg = Tensor.FromArray(x.ToArray(), 1, 1, 3, 4);
        xg.RequiresGrad = true;
        var yCpu = Ops.MaxPool2d(x, 2, 1);
        var yGpu = Ops.MaxPool2d(xg.To(Gpu), 2, 1).To(Device.Cpu);
        Assert.Equal(yCpu.ToArray(), yGpu.ToArray());
        var g = new Rng(3).Normal(yCpu.Shape);
        yCpu.Backward(g);
        yGpu.Backward(g);
        Assert.Equal(x.Grad!.ToArray(), xg.Grad!.ToArray());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BatchNormLeavesTheCpusRunningStatistics(bool training)
    {
        (float[] Mean, float[] Var) Run(Device device)
        {
            var x = new Rng(5).Normal([3, 2, 2, 3]).To(device);
            var rm = Tensor.FromArray([0.5f, -1f], 2).To(device);
            var rv = Tensor.FromArray([2f, 0.25f], 2).To(device);
            Ops.BatchNorm2d(x, null, null, rm, rv, training, momentum: 0.3f);
            return (rm.ToArray(), rv.ToArray());
        }
        var cpu = Run(Device.Cpu);
        var gpu = Run(Gpu);
        Parity.AssertClose(Tensor.FromArray(cpu.Mean, 2), Tensor.FromArray(gpu.Mean, 2), 1e-6, "running mean");
        Parity.AssertClose(Tensor.FromArray(cpu.Var, 2), Tensor.FromArray(gpu.Var, 2), 1e-6, "running variance");
        if (!training) Assert.Equal([0.5f, -1f], gpu.Mean);
    }

    // ---- dropout: Philox on the device, so statistics and reproducibility rather than parity -----------------

    /// <summary>Random123's known-answer vectors for Philox-4x32-10 (kat_vectors), checked on the host.</summary>
    [Theory]
    [InlineData(0u, 0u, 0u, 0u, 0u, 0u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void PhiloxMatchesTheReferenceVectors(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint r0, uint r1, uint r2, uint r3)
    {
        var r = GpuRandom.Philox(new Philox4 { X = c0, Y = c1, Z = c2, W = c3 }, k0, k1);
        Assert.Equal([r0, r1, r2, r3], new[] { r.X, r.Y, r.Z, r.W });
    }

    private static float[] Mask(float p, Rng rng, int n = 10_000) =>
        Ops.Dropout(Tensor.Ones(n).To(Gpu), p, training: true, rng).ToArray();

    [Theory]
    [InlineData(0.3f)]
    [InlineData(0.9f)]
    public void DropoutKeepsOneMinusPOfTheElementsScaledBy1OverOneMinusP(float p)
    {
        var m = Mask(p, new Rng(42));
        float keep = 1f / (1f - p);
        Assert.All(m, v => Assert.True(v == 0f || v == keep, $"mask value {v} is neither 0 nor {keep}"));
        double kept = m.Count(v => v != 0f) / (double)m.Length;
        double sigma = Math.Sqrt(p * (1 - p) / m.Length);
        Assert.True(Math.Abs(kept - (1 - p)) < 5 * sigma, $"kept {kept:F4} of the elements, expected {1 - p:F2} ± {5 * sigma:F4}");
    }

    [Fact]
    public void DropoutIsReproducibleFromTheSeedAndDiffersOtherwise()
    {
        var a = Mask(0.5f, new Rng(7), 2000);
        Assert.Equal(a, Mask(0.5f, new Rng(7), 2000));
        Assert.NotEqual(a, Mask(0.5f, new Rng(8), 2000));
        var rng = new Rng(7);
        var first = Mask(0.5f, rng, 2000);
        Assert.Equal(a, first);
        Assert.NotEqual(first, Mask(0.5f, rng, 2000)); // the key advanced the generator
        Assert.All(Mask(1f, new Rng(1), 100), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void DropoutsGradientIsTheMask()
    {
        var x = new Rng(2).Normal([300]);
        x.RequiresGrad = true;
        var y = Ops.Dropout(x.To(Gpu), 0.4f, training: true, new Rng(3)).To(Device.Cpu);
        y.Backward(Tensor.Ones(300));
        var (xs, ys, gs) = (x.ToArray(), y.ToArray(), x.Grad!.ToArray());
        for (int i = 0; i < xs.Length; i++)
        {
            Assert.True(gs[i] == 0f || gs[i] == 1f / 0.6f, $"gradient {gs[i]} at {i}");
            Assert.Equal(xs[i] * gs[i], ys[i]);
        }
    }

    /// <summary>Every entry of the kernel table has an ILGPU kernel: no op falls back, none is missing.</summary>
    [Fact]
    public void TheIlgpuTableImplementsEveryEntry()
    {
        var missing = typeof(KernelTable).GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => m.IsVirtual && m.DeclaringType == typeof(KernelTable))
            .Where(m => Gpu.Kernels.GetType().GetMethod(m.Name, m.GetParameters().Select(p => p.ParameterType).ToArray())!.DeclaringType == typeof(KernelTable))
            .Select(m => m.Name).ToArray();
        Assert.Empty(missing);
    }
}

/// <summary>
/// The ILGPU convolution over several image chunks (the column matrix capped far below one batch): each chunk's weight
/// gradient is added onto the previous ones (GEMM beta = 1), and the last chunk is shorter. Changes a process-wide
/// setting, so it runs alone.
/// </summary>
[Collection(GlobalKernelSettings.Name)]
public class IlgpuConvChunkTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Conv2dInChunksMatchesTheCpuBackend(int imagesPerChunk)
    {
        var gpu = Device.Parse("ilgpu-cpu");
        Tensor[] Inputs() => new[] { new Rng(4).Normal([3, 2, 5, 4]), new Rng(5).Normal([3, 2, 3, 2]), new Rng(6).Normal([3]) }
            .Select(t => { t.RequiresGrad = true; return t; }).ToArray();
        var (cpuIn, gpuIn) = (Inputs(), Inputs());
        static Tensor F(Tensor[] x) => Ops.Conv2d(x[0], x[1], x[2], 2, new Padding2d(1, 2, 0, 1));
        var yCpu = F(cpuIn);
        int saved = IlgpuKernelTable.ColFloats;
        Tensor yGpu;
        try
        {
            IlgpuKernelTable.ColFloats = imagesPerChunk * (2 * 3 * 2) * (yCpu.Shape[2] * yCpu.Shape[3]); // K·P per image
            yGpu = F(gpuIn.Select(x => x.To(gpu)).ToArray()).To(Device.Cpu);
            var upstream = new Rng(11).Normal(yCpu.Shape);
            yCpu.Backward(upstream);
            yGpu.Backward(upstream);
        }
        finally { IlgpuKernelTable.ColFloats = saved; }
        Parity.AssertClose(yCpu, yGpu, 5e-5, "forward");
        for (int i = 0; i < 3; i++) Parity.AssertClose(cpuIn[i].Grad!, gpuIn[i].Grad!, 2e-4, $"gradient of input {i}");
    }
}
