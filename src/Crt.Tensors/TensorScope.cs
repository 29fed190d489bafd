namespace Crt.Tensors;

/// <summary>
/// A region (typically one training step) whose temporary tensors rent their storage from a shared
/// pool and hand it back when the scope ends, so steady-state training allocates nothing.
/// Tensors that must outlive the scope call <see cref="Tensor.Keep"/>; using a released tensor
/// throws instead of reading recycled memory.
/// <code>
/// using (TensorScope.Begin()) { var loss = model.Loss(batch); loss.Backward(); opt.Step(); value = loss.Item(); }
/// </code>
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;

    private static readonly Dictionary<int, Stack<float[]>> Pool = new();
    private static readonly object PoolLock = new();
    private static long _pooledFloats;

    /// <summary>Upper bound on idle pooled memory; beyond it returned buffers go to the GC instead.</summary>
    public static long MaxPooledBytes { get; set; } = 8L << 30;

    private readonly TensorScope? _parent;
    private readonly bool _suspended;
    private readonly List<Tensor> _tracked = new();
    private bool _disposed;

    private TensorScope(TensorScope? parent, bool suspended)
    {
        _parent = parent;
        _suspended = suspended;
    }

    /// <summary>Starts a scope on this thread; dispose it to return its buffers.</summary>
    public static TensorScope Begin() => _current = new TensorScope(_current, suspended: false);

    /// <summary>Inside an active scope, allocates normally (for state that must persist, e.g. optimizer moments).</summary>
    public static TensorScope Suspend() => _current = new TensorScope(_current, suspended: true);

    public static bool IsActive => _current is { _suspended: false };

    /// <summary>Storage for <paramref name="n"/> elements from the returned offset (<see cref="AlignedStorage"/>): pooled inside an
    /// active scope, else fresh and zeroed.</summary>
    internal static (float[] data, int offset, bool pooled) Rent(int n, bool clear)
    {
        if (!IsActive || n == 0)
        {
            var (fresh, at) = AlignedStorage.Allocate(n, clear: true);
            return (fresh, at, false);
        }
        float[]? arr = null;
        lock (PoolLock)
        {
            if (Pool.TryGetValue(n, out var stack) && stack.Count > 0)
            {
                arr = stack.Pop();
                _pooledFloats -= arr.Length;
            }
        }
        if (arr is null)
        {
            var (fresh, at) = AlignedStorage.Allocate(n, clear);
            return (fresh, at, true);
        }
        int offset = AlignedStorage.OffsetOf(arr);
        if (clear) Kernels.Cpu.Layout.Clear(arr.AsSpan(offset, n));
        return (arr, offset, true);
    }

    internal static void Track(Tensor t)
    {
        t.OwnerScope = _current;
        _current!._tracked.Add(t);
    }

    /// <summary>Registers a view sharing <paramref name="source"/>'s pooled storage, so both are released together.</summary>
    internal static void TrackView(Tensor view, Tensor source)
    {
        if (!source.Pooled || source.OwnerScope is not { _disposed: false } owner) return;
        view.Pooled = true;
        view.OwnerScope = owner;
        owner._tracked.Add(view);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_current != this)
            throw new InvalidOperationException("TensorScope disposed out of order: scopes must be nested and disposed innermost first");
        _current = _parent;
        if (_suspended) return;
        var returned = new HashSet<object>(ReferenceEqualityComparer.Instance);
        foreach (var t in _tracked)
        {
            if (!t.Pooled || t.IsReleased) continue; // kept, or already released
            returned.Add(t.StorageObject);
            t.ReleaseStorage();
        }
        _tracked.Clear();
        foreach (var block in returned)
            if (block is Backends.DeviceMemory memory) memory.Backend.Return(memory);
        lock (PoolLock)
        {
            foreach (var arr in returned.OfType<float[]>())
            {
                if ((_pooledFloats + arr.Length) * 4L > MaxPooledBytes) continue;
                int n = AlignedStorage.CapacityOf(arr);
                if (!Pool.TryGetValue(n, out var stack)) Pool[n] = stack = new Stack<float[]>();
                stack.Push(arr);
                _pooledFloats += arr.Length;
            }
        }
    }

    /// <summary>Drops every idle pooled buffer (e.g. between runs with different shapes).</summary>
    public static void Trim()
    {
        lock (PoolLock) { Pool.Clear(); _pooledFloats = 0; }
    }
}
