namespace Crt.Tensors;

/// <summary>
/// Where a tensor's storage lives and whose kernels run on it. Only the CPU exists today; ops check
/// that their inputs share a device and dispatch on it, so a CUDA device can be added behind the ops
/// without touching modules or trainers.
/// </summary>
public sealed class Device : IEquatable<Device>
{
    public static readonly Device Cpu = new("cpu");

    public string Name { get; }

    private Device(string name) => Name = name;

    public static Device Parse(string name) => name.ToLowerInvariant() switch
    {
        "cpu" => Cpu,
        _ => throw new ArgumentException($"unknown device '{name}': this build supports: cpu"),
    };

    /// <summary>Throws unless every tensor lives on the same device; returns that device.</summary>
    public static Device Common(string op, params Tensor[] tensors)
    {
        var d = tensors[0].Device;
        foreach (var t in tensors)
            if (!t.Device.Equals(d))
                throw new InvalidOperationException($"{op}: inputs are on different devices ({d.Name} and {t.Device.Name})");
        if (d != Cpu) throw new NotSupportedException($"{op}: no kernel for device {d.Name}");
        return d;
    }

    public bool Equals(Device? other) => other is not null && other.Name == Name;
    public override bool Equals(object? obj) => Equals(obj as Device);
    public override int GetHashCode() => Name.GetHashCode();
    public override string ToString() => Name;
}
