using Crt.Tensors.Cuda;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Crt.Tensors.Backends.Ilgpu;

/// <summary>
/// A block of device memory owned by an ILGPU accelerator. A block of a tensor made outside any <see cref="TensorScope"/>
/// is never returned explicitly: when the tensor dies, this wrapper's finalizer hands the buffer to the backend's cache.
/// ILGPU's own finalizers never run on these buffers (freeing CUDA memory from the finalizer thread is not safe): the
/// backend holds every buffer it allocated until <see cref="DeviceBackend.Trim"/> frees it on purpose.
/// </summary>
internal sealed class IlgpuMemory(IlgpuBackend backend, MemoryBuffer1D<float, Stride1D.Dense> buffer) : DeviceMemory
{
    public MemoryBuffer1D<float, Stride1D.Dense> Buffer { get; } = buffer;
    public ArrayView<float> View => Buffer.View;
    public override int Length => (int)Buffer.Length;
    public override DeviceBackend Backend => backend;

    /// <summary>Set when the buffer was freed on purpose (<see cref="DeviceBackend.Trim"/>): nothing to recycle.</summary>
    internal bool Freed { get; set; }

    ~IlgpuMemory()
    {
        if (!Freed) backend.Return(new IlgpuMemory(backend, Buffer));
    }
}

/// <summary>
/// A device whose kernels are ILGPU kernels (<see cref="GpuPointwise"/>, <see cref="GpuModelKernels"/> and the rest listed on <see cref="IlgpuKernelTable"/>): on a CUDA GPU
/// ("cuda", "cuda:N"), or on ILGPU's CPU accelerator ("ilgpu-cpu"), which runs the same kernel source as managed code so
/// that CI, which has no GPU, tests it.
/// </summary>
internal sealed class IlgpuBackend : DeviceBackend
{
    public Context Context { get; }
    public Accelerator Accelerator { get; }
    public IlgpuKernelTable Table { get; }
    public override KernelTable Kernels => Table;

    /// <summary>cuBLAS for the matrix products on a CUDA GPU (null on the CPU accelerator, or when it cannot be loaded).</summary>
    public Cublas? Blas { get; }

    /// <summary>Why <see cref="Blas"/> is null on a CUDA GPU (the ILGPU GEMM kernel runs instead; <c>crt doctor</c> says so).</summary>
    public string? BlasProblem { get; }

    /// <summary>Threads per launch at most: a GPU wants many; the CPU accelerator runs each as a managed thread, so few.</summary>
    public int MaxThreads { get; }

    private IlgpuBackend(string name, Context context, Accelerator accelerator, int maxThreads)
    {
        Context = context;
        Accelerator = accelerator;
        MaxThreads = maxThreads;
        if (accelerator is CudaAccelerator cuda) (Blas, BlasProblem) = Cublas.TryCreate(cuda);
        Table = new IlgpuKernelTable(name, this);
    }

    /// <summary>Every buffer this backend allocated and has not freed: reachable, so the GC never finalizes one.</summary>
    private readonly HashSet<MemoryBuffer1D<float, Stride1D.Dense>> _buffers = new(ReferenceEqualityComparer.Instance);

    protected override DeviceMemory AllocateNew(int n)
    {
        var buffer = Accelerator.Allocate1D<float>(Math.Max(n, 1));
        lock (_buffers) _buffers.Add(buffer);
        return new IlgpuMemory(this, buffer);
    }

    protected override void Free(DeviceMemory block)
    {
        var memory = (IlgpuMemory)block;
        memory.Freed = true;
        lock (_buffers) _buffers.Remove(memory.Buffer);
        memory.Buffer.Dispose();
    }

    public override void CopyFromHost(ReadOnlySpan<float> src, DeviceMemory dst)
    {
        if (src.Length == 0) return;
        ((IlgpuMemory)dst).View.SubView(0, src.Length).CopyFromCPU(src);
    }

    public override void CopyToHost(DeviceMemory src, Span<float> dst)
    {
        if (dst.Length == 0) return;
        ((IlgpuMemory)src).View.SubView(0, dst.Length).CopyToCPU(dst);
    }

    public override void Synchronize() => Accelerator.Synchronize();

    /// <summary>cuBLAS's input types and compute type; the ILGPU GEMM kernel rounds its inputs the same way.</summary>
    public override MatmulPrecision Precision { get; set; }

    /// <summary>ILGPU's CPU accelerator: the GPU kernels as managed code (slow; for tests).</summary>
    public static Device CreateCpuSimulator(string name)
    {
        var context = Context.Create(b => b.CPU().EnableAlgorithms());
        return Device.ForBackend(name, new IlgpuBackend(name, context, context.CreateCPUAccelerator(0), maxThreads: 4));
    }

    /// <summary>A CUDA GPU by ordinal; no driver or no such GPU is one sentence (an <see cref="ArgumentException"/>).</summary>
    public static Device CreateCuda(string name)
    {
        int ordinal = 0;
        if (name.Contains(':') && !int.TryParse(name[(name.IndexOf(':') + 1)..], out ordinal) || ordinal < 0)
            throw new ArgumentException($"device '{name}': expected cuda or cuda:N with N a GPU number");
        var probe = CudaDriverProbe.Probe();
        if (probe.Problem is not null && probe.Devices.Count == 0)
            throw new ArgumentException($"device '{name}' is not available: {probe.Problem}");
        if (ordinal >= probe.Devices.Count)
            throw new ArgumentException($"device '{name}' is not available: the CUDA driver reports {probe.Devices.Count} GPU(s)");
        var context = Context.Create(b => b.Cuda().EnableAlgorithms());
        var devices = context.GetCudaDevices();
        if (ordinal >= devices.Count)
            throw new ArgumentException($"device '{name}' is not available: ILGPU finds {devices.Count} CUDA GPU(s)");
        return Device.ForBackend(name, new IlgpuBackend(name, context, devices[ordinal].CreateAccelerator(context), maxThreads: 1 << 20));
    }
}

/// <summary>Registers the ILGPU devices with <see cref="Device.Parse"/>.</summary>
internal static class IlgpuDevices
{
    private static bool _registered;

    public static void Register()
    {
        if (_registered) return;
        _registered = true;
        Device.Factories["ilgpu-cpu"] = IlgpuBackend.CreateCpuSimulator;
        Device.Factories["cuda"] = IlgpuBackend.CreateCuda;
    }
}
