namespace Crt.Tensors.Backends;

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

    /// <summary>
    /// A block of exactly <paramref name="n"/> elements (contents undefined), from the cache when one is free. When the
    /// device is out of memory, the blocks of dead unscoped tensors are collected into the cache (their finalizers return
    /// them, see <see cref="Ilgpu.IlgpuMemory"/>) and the request is tried once more.
    /// </summary>
    public DeviceMemory Rent(int n)
    {
        if (TryTake(n) is { } cached) return cached;
        try { return AllocateNew(n); }
        catch (Exception e) when (e is not ArgumentException)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            return TryTake(n) ?? AllocateNew(n);
        }
    }

    private DeviceMemory? TryTake(int n)
    {
        lock (_cacheLock)
            return _cache.TryGetValue(n, out var stack) && stack.Count > 0 ? stack.Pop() : null;
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

    /// <summary>Frees every cached block (waiting first for the kernels that may still use one).</summary>
    public void Trim()
    {
        List<DeviceMemory> blocks;
        lock (_cacheLock)
        {
            blocks = _cache.Values.SelectMany(s => s).ToList();
            _cache.Clear();
        }
        Synchronize();
        foreach (var b in blocks) Free(b);
    }

    /// <summary>Gives a block's memory back to the device (called on the thread that trims, never from a finalizer).</summary>
    protected abstract void Free(DeviceMemory block);
}
