using Crt.Tensors.Backends;
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

    public static TheoryData<string> Names()
    {
        var d = new TheoryData<string>();
        foreach (var c in BackendParity.Cases) d.Add(c.Name);
        return d;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void ForwardAndBackwardMatchTheCpuBackend(string name)
    {
        var r = BackendParity.Check(Gpu, BackendParity.Cases.Single(c => c.Name == name));
        Assert.True(r.Passed, $"{name}: {r.Problem ?? $"relative error forward {r.ForwardError:G3}, gradient {r.GradientError:G3} (tolerance {r.Tolerance:G2})"}");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void GradientsMatchFiniteDifferences(string name)
    {
        var c = BackendParity.Cases.Single(x => x.Name == name);
        if (c.Kinked) return; // finite differences straddle the kink: parity with the CPU covers these
        GradCheck.Check(BackendParity.On(Gpu, c), BackendParity.Inputs(c, 3), maxProbes: 8, label: name);
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

    /// <summary>A dead unscoped tensor's device block returns to the cache (not freed from the finalizer thread) and is reused.</summary>
    [Fact]
    public void ADeadTensorsDeviceBlockIsRecycledNotFreed()
    {
        const int n = 1237; // a size no other test allocates
        object Allocate() => ((Crt.Tensors.Backends.Ilgpu.IlgpuMemory)Tensor.Zeros(Gpu, n).Memory).Buffer;
        var first = Allocate(); // the tensor itself is unreachable as soon as this returns
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.Same(first, Allocate());
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
