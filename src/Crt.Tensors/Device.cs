using Crt.Tensors.Backends;
using Crt.Tensors.Backends.Cpu;

namespace Crt.Tensors;

/// <summary>
/// Where a tensor's storage lives and whose kernels run on it. Ops check that their inputs share a device and call
/// that device's <see cref="KernelTable"/>; modules and trainers never name a device's kernels. The CPU is always
/// there; other devices come from <see cref="Parse"/>, which starts their backend the first time it is asked for.
/// </summary>
public sealed class Device : IEquatable<Device>
{
    public static readonly Device Cpu = new("cpu", CpuKernelTable.Instance, null);

    public string Name { get; }

    /// <summary>The kernels that run on this device's tensors.</summary>
    public KernelTable Kernels { get; }

    /// <summary>Allocation and host copies; null for the CPU, whose tensors are plain arrays.</summary>
    internal DeviceBackend? Backend { get; }

    public bool IsCpu => Backend is null;

    /// <summary>Waits until every kernel queued on this device has finished (a no-op on the CPU, whose kernels are synchronous).</summary>
    public void Synchronize() => Backend?.Synchronize();

    /// <summary>How this device multiplies matrices (the CPU: always float32; a setting for it is ignored).</summary>
    public MatmulPrecision Precision
    {
        get => Backend?.Precision ?? MatmulPrecision.Fp32;
        set { if (Backend is not null) Backend.Precision = value; }
    }

    private Device(string name, KernelTable kernels, DeviceBackend? backend)
    {
        Name = name;
        Kernels = kernels;
        Backend = backend;
    }

    /// <summary>A device for a backend that the caller started (the backend's own factory calls this).</summary>
    internal static Device ForBackend(string name, DeviceBackend backend) => new(name, backend.Kernels, backend);

    private static readonly Dictionary<string, Device> Started = new();

    /// <summary>Factories for the non-CPU device names, by prefix ("cuda" takes "cuda" and "cuda:N").</summary>
    internal static readonly Dictionary<string, Func<string, Device>> Factories = new();

    /// <summary>
    /// "cpu", or a device a backend provides: "cuda" / "cuda:N" (a GPU through ILGPU's CUDA accelerator) or "ilgpu-cpu"
    /// (the GPU kernels on ILGPU's CPU accelerator: slow, for testing them where there is no GPU). Asking for a device
    /// this machine lacks gives one sentence saying why.
    /// </summary>
    public static Device Parse(string name)
    {
        string key = name.Trim().ToLowerInvariant();
        if (key == "cpu") return Cpu;
        lock (Started)
        {
            if (Started.TryGetValue(key, out var d)) return d;
            string prefix = key.Split(':')[0];
            Backends.Ilgpu.IlgpuDevices.Register();
            if (!Factories.TryGetValue(prefix, out var factory))
                throw new ArgumentException($"unknown device '{name}': known devices are cpu, cuda, cuda:N and ilgpu-cpu");
            d = factory(key);
            Started[key] = d;
            return d;
        }
    }

    /// <summary>Throws unless every tensor lives on the same device; returns that device.</summary>
    public static Device Common(string op, params Tensor?[] tensors)
    {
        Device? d = null;
        foreach (var t in tensors)
        {
            if (t is null) continue;
            if (d is null) d = t.Device;
            else if (!ReferenceEquals(t.Device, d))
                throw new InvalidOperationException($"{op}: inputs are on different devices ({d.Name} and {t.Device.Name}); move them with To(device)");
        }
        return d ?? Cpu;
    }

    /// <summary>The kernel table of the device all of <paramref name="tensors"/> share.</summary>
    internal static KernelTable KernelsOf(string op, params Tensor?[] tensors) => Common(op, tensors).Kernels;

    public bool Equals(Device? other) => other is not null && other.Name == Name;
    public override bool Equals(object? obj) => Equals(obj as Device);
    public override int GetHashCode() => Name.GetHashCode();
    public override string ToString() => Name;
}
