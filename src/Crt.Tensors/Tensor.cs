using System.Runtime.CompilerServices;
using Crt.Tensors.Autograd;
using Crt.Tensors.Backends;

namespace Crt.Tensors;

/// <summary>
/// A dense, contiguous, row-major float32 tensor that knows its device and, when it takes part in
/// autograd, the node that produced it. Reshape shares storage; every other shape op copies.
/// </summary>
public sealed partial class Tensor
{
    private float[]? _data;
    private int _offset;
    private DeviceMemory? _memory; // storage on a device other than the CPU (then _data is null)

    /// <summary>Dimensions, outermost first (NCHW for images). Never mutated.</summary>
    public int[] Shape { get; }

    /// <summary>Number of elements (product of <see cref="Shape"/>).</summary>
    public int Size { get; }

    public int Rank => Shape.Length;

    public Device Device { get; private set; }

    /// <summary>Accumulated gradient (same shape), or null before the first backward pass.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>Set on leaves (parameters, inputs under test); ops propagate it to their outputs.</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>Optional name, used in error messages and by modules.</summary>
    public string? Name { get; set; }

    /// <summary>The tape node that produced this tensor; null for leaves and for tensors made under NoGrad.</summary>
    internal GradNode? Node { get; set; }

    /// <summary>True when the storage was rented from the buffer pool inside a <see cref="TensorScope"/>.</summary>
    internal bool Pooled { get; set; }

    /// <summary>The scope that will return this tensor's pooled storage.</summary>
    internal TensorScope? OwnerScope { get; set; }

    public bool IsLeaf => Node is null;

    internal Tensor(int[] shape, float[] data, Device device, int offset = 0)
    {
        Shape = shape;
        Size = ShapeUtil.Numel(shape);
        if (offset < 0 || data.Length - offset < Size)
            throw new ArgumentException($"storage of {data.Length} elements from {offset} is too small for shape {ShapeUtil.Format(shape)}");
        _data = data;
        _offset = offset;
        Device = device;
    }

    internal Tensor(int[] shape, DeviceMemory memory, Device device)
    {
        Shape = shape;
        Size = ShapeUtil.Numel(shape);
        if (memory.Length < Size)
            throw new ArgumentException($"device storage of {memory.Length} elements is too small for shape {ShapeUtil.Format(shape)}");
        _memory = memory;
        Device = device;
    }

    /// <summary>The storage array; the elements are <see cref="Span"/> = Storage[StorageOffset .. StorageOffset + Size].</summary>
    internal float[] Storage
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _data ?? throw StorageMissing();
    }

    /// <summary>The device storage of a tensor on a device other than the CPU (read only by that device's kernels).</summary>
    internal DeviceMemory Memory => _memory ?? throw StorageMissing();

    private Exception StorageMissing()
    {
        string what = $"tensor {ShapeUtil.Format(Shape)}{(Name is null ? "" : " '" + Name + "'")}";
        if (_memory is not null)
            return new InvalidOperationException($"{what} lives on {Device.Name}: its elements cannot be read on the CPU; copy it with To(Device.Cpu) or ToArray()");
        if (_data is not null)
            return new InvalidOperationException($"{what} is a CPU tensor: it has no device storage");
        return new ObjectDisposedException(what,
            "its buffer was returned to the pool when its TensorScope ended; call Keep() on tensors that must outlive the scope");
    }

    /// <summary>Where element 0 lies in <see cref="Storage"/> (non-zero where the storage was aligned: <see cref="AlignedStorage"/>).</summary>
    internal int StorageOffset => _offset;

    /// <summary>The elements, row-major (views share them with their source).</summary>
    public Span<float> Span => Storage.AsSpan(_offset, Size);

    public ReadOnlySpan<float> ReadOnlySpan => Storage.AsSpan(_offset, Size);

    internal bool IsReleased => _data is null && _memory is null;

    /// <summary>The storage object (array or device block) views share: what a scope returns to its pool once.</summary>
    internal object StorageObject => (object?)_data ?? _memory ?? throw StorageMissing();

    internal void ReleaseStorage()
    {
        _data = null;
        _memory = null;
    }

    public int Dim(int axis) => Shape[ShapeUtil.NormalizeAxis(axis, Rank, "dim")];

    // ---- creation -------------------------------------------------------------------------------

    /// <summary>A CPU tensor with uninitialised contents (pooled inside a <see cref="TensorScope"/>).</summary>
    public static Tensor Empty(params int[] shape) => Allocate(Device.Cpu, shape, clear: false);

    /// <summary>A tensor on <paramref name="device"/> with uninitialised contents (pooled inside a <see cref="TensorScope"/>).</summary>
    public static Tensor Empty(Device device, params int[] shape) => Allocate(device, shape, clear: false);

    public static Tensor Zeros(params int[] shape) => Allocate(Device.Cpu, shape, clear: true);

    public static Tensor Zeros(Device device, params int[] shape) => Allocate(device, shape, clear: true);

    public static Tensor Ones(params int[] shape) => Full(1f, shape);

    public static Tensor Full(float value, params int[] shape) => Full(Device.Cpu, value, shape);

    public static Tensor Full(Device device, float value, params int[] shape)
    {
        var t = Allocate(device, shape, clear: false);
        device.Kernels.Fill(t, value);
        return t;
    }

    public static Tensor Scalar(float value) => FromArray(new[] { value }, Array.Empty<int>());

    /// <summary>Wraps <paramref name="data"/> without copying.</summary>
    public static Tensor FromArray(float[] data, params int[] shape)
    {
        ShapeUtil.Validate(shape, "FromArray");
        int n = ShapeUtil.Numel(shape);
        if (data.Length != n)
            throw new ArgumentException($"FromArray: {data.Length} values do not fill shape {ShapeUtil.Format(shape)} ({n} elements)");
        return new Tensor((int[])shape.Clone(), data, Device.Cpu);
    }

    /// <summary>Copies <paramref name="data"/> into a new tensor.</summary>
    public static Tensor From(ReadOnlySpan<float> data, params int[] shape)
    {
        var t = Empty(shape);
        if (data.Length != t.Size)
            throw new ArgumentException($"From: {data.Length} values do not fill shape {ShapeUtil.Format(shape)} ({t.Size} elements)");
        data.CopyTo(t.Span);
        return t;
    }

    public static Tensor Arange(int n)
    {
        var t = Empty(n);
        var s = t.Span;
        for (int i = 0; i < n; i++) s[i] = i;
        return t;
    }

    internal static Tensor Allocate(Device device, int[] shape, bool clear)
    {
        ShapeUtil.Validate(shape, "tensor");
        int n = ShapeUtil.Numel(shape);
        Tensor t;
        if (device.Backend is { } backend)
        {
            bool pooled = TensorScope.IsActive;
            t = new Tensor((int[])shape.Clone(), backend.Rent(n), device) { Pooled = pooled };
            if (pooled) TensorScope.Track(t);
            if (clear) device.Kernels.Fill(t, 0f);
            return t;
        }
        var (data, offset, pooledArray) = TensorScope.Rent(n, clear);
        t = new Tensor((int[])shape.Clone(), data, Device.Cpu, offset) { Pooled = pooledArray };
        if (pooledArray) TensorScope.Track(t);
        return t;
    }

    /// <summary>A new tensor with the same shape and device, and uninitialised contents.</summary>
    public Tensor EmptyLike() => Empty(Device, Shape);

    public Tensor ZerosLike() => Zeros(Device, Shape);

    // ---- values -----------------------------------------------------------------------------------

    /// <summary>The single value of a one-element tensor.</summary>
    /// <summary>The single value of a one-element tensor (on a device, an explicit copy to the host that waits for its kernels).</summary>
    public float Item()
    {
        if (Size != 1) throw new InvalidOperationException($"Item: tensor {ShapeUtil.Format(Shape)} has {Size} elements, not 1");
        return ToArray()[0];
    }

    /// <summary>Copies the elements into a host span of exactly <see cref="Size"/> elements (from a device, an explicit copy).</summary>
    public void CopyTo(Span<float> destination)
    {
        if (destination.Length != Size)
            throw new ArgumentException($"CopyTo: {destination.Length} destination elements for tensor {ShapeUtil.Format(Shape)} ({Size})");
        if (Device.Backend is { } backend) { if (Size > 0) backend.CopyToHost(Memory, destination); }
        else ReadOnlySpan.CopyTo(destination);
    }

    /// <summary>The elements in a new host array (from a device, an explicit copy).</summary>
    public float[] ToArray()
    {
        if (Device.Backend is not { } backend) return ReadOnlySpan.ToArray();
        var host = new float[Size];
        backend.CopyToHost(Memory, host);
        return host;
    }

    /// <summary>
    /// This tensor on <paramref name="device"/>: itself when it is already there, else a copy (taped: the gradient
    /// flows back to this device). The only way values cross between host and device, besides <see cref="ToArray"/>.
    /// </summary>
    public Tensor To(Device device)
    {
        if (ReferenceEquals(device, Device)) return this;
        var y = CopyToDevice(device);
        var source = this;
        return Record("to", y, new[] { this }, g => source.AccumulateGrad(g.CopyToDevice(source.Device)));
    }

    /// <summary>Overwrites this tensor's elements with <paramref name="source"/>'s (same shape; any devices). Not taped.</summary>
    public void CopyFrom(Tensor source)
    {
        if (!ShapeUtil.SameShape(source.Shape, Shape))
            throw new ArgumentException($"CopyFrom: source {ShapeUtil.Format(source.Shape)} does not match {ShapeUtil.Format(Shape)}");
        if (ReferenceEquals(source.Device, Device)) { Device.Kernels.Copy(source, this); return; }
        if (Device.Backend is { } to) to.CopyFromHost(source.Device.IsCpu ? source.ReadOnlySpan : source.ToArray(), Memory);
        else source.Device.Backend!.CopyToHost(source.Memory, Span);
    }

    /// <summary>
    /// Moves this tensor's storage to <paramref name="device"/> in place, keeping the object (what <c>Module.To</c> does to
    /// parameters and buffers, so that optimizers and modules holding them see the move). A leaf outside autograd only.
    /// </summary>
    internal void MoveStorage(Device device)
    {
        if (ReferenceEquals(device, Device)) return;
        if (Node is not null) throw new InvalidOperationException($"tensor {ShapeUtil.Format(Shape)} '{Name}' is computed; only leaves move in place");
        Tensor moved;
        using (TensorScope.Suspend()) moved = CopyToDevice(device);
        _data = moved._data;
        _offset = moved._offset;
        _memory = moved._memory;
        Device = device;
        Pooled = false;
        OwnerScope = null;
        if (Grad is not null) Grad = null;
        _retiredGrad = null;
    }

    /// <summary>A copy on <paramref name="device"/>, not taped.</summary>
    private Tensor CopyToDevice(Device device)
    {
        var y = Empty(device, Shape);
        if (Size == 0) return y;
        if (device.Backend is { } to)
        {
            if (Device.Backend is null) to.CopyFromHost(ReadOnlySpan, y.Memory);
            else to.CopyFromHost(ToArray(), y.Memory); // between two devices: through the host
        }
        else Device.Backend!.CopyToHost(Memory, y.Span);
        return y;
    }

    [IndexerName("At")]
    public float this[params int[] index]
    {
        get => Span[ShapeUtil.FlatIndex(Shape, index)];
        set => Span[ShapeUtil.FlatIndex(Shape, index)] = value;
    }

    /// <summary>A copy that does not take part in autograd (storage is copied).</summary>
    public Tensor Clone()
    {
        var t = EmptyLike();
        Device.Kernels.Copy(this, t);
        return t;
    }

    /// <summary>The same storage, cut from the tape: gradients do not flow through it.</summary>
    public Tensor Detach() => View(Shape);

    /// <summary>A tensor of another shape over the same storage (no autograd; see <c>Reshape</c> for the taped op).</summary>
    internal Tensor View(int[] shape)
    {
        var v = _memory is not null ? new Tensor((int[])shape.Clone(), _memory, Device) : new Tensor((int[])shape.Clone(), Storage, Device, _offset);
        if (v.Size != Size) throw new ArgumentException($"view: shape {ShapeUtil.Format(shape)} does not have the {Size} elements of {ShapeUtil.Format(Shape)}");
        TensorScope.TrackView(v, this);
        return v;
    }

    /// <summary>
    /// Moves this tensor's storage out of the pool so it survives the end of the current
    /// <see cref="TensorScope"/> (use for values a training step returns or caches).
    /// </summary>
    public Tensor Keep()
    {
        if (Pooled && _memory is not null)
        {
            // A fresh block outside the scope: views of the old one still return it to the cache.
            Tensor copy;
            using (TensorScope.Suspend()) copy = Clone();
            _memory = copy._memory;
            Pooled = false;
            OwnerScope = null;
        }
        else if (Pooled)
        {
            var (persistent, offset) = AlignedStorage.Allocate(Size, clear: false);
            ReadOnlySpan.CopyTo(persistent.AsSpan(offset));
            _data = persistent;
            _offset = offset;
            Pooled = false;
            OwnerScope = null;
        }
        return this;
    }

    public override string ToString()
    {
        var sb = new System.Text.StringBuilder();
        sb.Append("Tensor").Append(ShapeUtil.Format(Shape));
        if (Name is not null) sb.Append(" '").Append(Name).Append('\'');
        if (_memory is not null) sb.Append(" on ").Append(Device.Name);
        else if (!IsReleased)
        {
            sb.Append(" [");
            int n = Math.Min(Size, 8);
            for (int i = 0; i < n; i++) sb.Append(i > 0 ? ", " : "").Append(ReadOnlySpan[i].ToString("G5", System.Globalization.CultureInfo.InvariantCulture));
            if (Size > n) sb.Append(", …");
            sb.Append(']');
        }
        return sb.ToString();
    }
}
