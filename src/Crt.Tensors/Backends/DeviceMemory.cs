namespace Crt.Tensors.Backends;

/// <summary>
/// Float32 storage on a device other than the CPU (CPU tensors keep a plain pooled array). Only its backend reads the
/// elements; the host sees them through <see cref="DeviceBackend.CopyToHost"/>, which <see cref="Tensor.To"/> and
/// <see cref="Tensor.ToArray"/> call.
/// </summary>
public abstract class DeviceMemory
{
    /// <summary>Elements this block holds (a pooled block may be larger than the tensor using it).</summary>
    public abstract int Length { get; }

    /// <summary>The backend that allocated this block (and to whose cache it returns).</summary>
    public abstract DeviceBackend Backend { get; }
}
