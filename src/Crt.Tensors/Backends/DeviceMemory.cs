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

/// <summary>
/// What a non-CPU device provides besides its kernel table: allocation, a cache of freed blocks (a training step's
/// temporaries are recycled at the end of its <see cref="TensorScope"/>, as the CPU pool recycles arrays) and the copies
/// between host and device.
/// </summary>
public abstract class DeviceBackend
{
    private readonly Dictionary<int, Stack<DeviceMemory>> _cache = new();
    private readonly object _cacheLock = new();

    /// <summary>The kernels that run on this device.</summary>
    public abstract KernelTable Kernels { get; }

    /// <summary>A new block of <paramref name="n"/> elements (contents undefined).</summary>
    protected abstract DeviceMemory AllocateNew(int n);

    /// <summary>Copies <paramref name="src"/> into <paramref name="dst"/> from element 0.</summary>
    public abstract void CopyFromHost(ReadOnlySpan<float> src, DeviceMemory dst);

    /// <summary>Copies the first <paramref name="dst"/>.Length elements of <paramref name="src"/> to the host (waits for queued kernels).</summary>
    public abstract void CopyToHost(DeviceMemory src, Span<float> dst);

    /// <summary>Waits until every queued kernel has finished.</summary>
    public abstract void Synchronize();

    /// <summary>How matrix products are computed on this device (see <see cref="MatmulPrecision"/>).</summary>
    public virtual MatmulPrecision Precision { get; set; }

    /// <summary>A block of exactly <paramref name="n"/> elements (contents undefined), from the cache when one is free.</summary>
    public DeviceMemory Rent(int n)
    {
        DeviceMemory? block = null;
        lock (_cacheLock)
            if (_cache.TryGetValue(n, out var stack) && stack.Count > 0) block = stack.Pop();
        block ??= AllocateNew(n);
        return block;
    }

    /// <summary>Hands a block back for reuse by the next <see cref="Rent"/> of its size.</summary>
    public void Return(DeviceMemory block)
    {
        lock (_cacheLock)
        {
            if (!_cache.TryGetValue(block.Length, out var stack)) _cache[block.Length] = stack = new Stack<DeviceMemory>();
            stack.Push(block);
        }
    }

    /// <summary>Drops every cached block (their memory is freed when the runtime collects them).</summary>
    public void Trim()
    {
        lock (_cacheLock) _cache.Clear();
    }
}
