using System.Runtime.CompilerServices;
using Crt.Tensors.Autograd;

namespace Crt.Tensors;

/// <summary>
/// A dense, contiguous, row-major float32 tensor that knows its device and, when it takes part in
/// autograd, the node that produced it. Reshape shares storage; every other shape op copies.
/// </summary>
public sealed partial class Tensor
{
    private float[]? _data;
    private int _offset;

    /// <summary>Dimensions, outermost first (NCHW for images). Never mutated.</summary>
    public int[] Shape { get; }

    /// <summary>Number of elements (product of <see cref="Shape"/>).</summary>
    public int Size { get; }

    public int Rank => Shape.Length;

    public Device Device { get; }

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

    /// <summary>The storage array; the elements are <see cref="Span"/> = Storage[StorageOffset .. StorageOffset + Size].</summary>
    internal float[] Storage
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _data ?? throw new ObjectDisposedException(
            $"tensor {ShapeUtil.Format(Shape)}{(Name is null ? "" : " '" + Name + "'")}",
            "its buffer was returned to the pool when its TensorScope ended; call Keep() on tensors that must outlive the scope");
    }

    /// <summary>Where element 0 lies in <see cref="Storage"/> (non-zero where the storage was aligned: <see cref="AlignedStorage"/>).</summary>
    internal int StorageOffset => _offset;

    /// <summary>The elements, row-major (views share them with their source).</summary>
    public Span<float> Span => Storage.AsSpan(_offset, Size);

    public ReadOnlySpan<float> ReadOnlySpan => Storage.AsSpan(_offset, Size);

    internal bool IsReleased => _data is null;

    internal void ReleaseStorage() => _data = null;

    public int Dim(int axis) => Shape[ShapeUtil.NormalizeAxis(axis, Rank, "dim")];

    // ---- creation -------------------------------------------------------------------------------

    /// <summary>A tensor with uninitialised contents (pooled inside a <see cref="TensorScope"/>).</summary>
    public static Tensor Empty(params int[] shape) => Allocate(shape, clear: false);

    public static Tensor Zeros(params int[] shape) => Allocate(shape, clear: true);

    public static Tensor Ones(params int[] shape) => Full(1f, shape);

    public static Tensor Full(float value, params int[] shape)
    {
        var t = Allocate(shape, clear: false);
        t.Span.Fill(value);
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

    internal static Tensor Allocate(int[] shape, bool clear)
    {
        ShapeUtil.Validate(shape, "tensor");
        int n = ShapeUtil.Numel(shape);
        var (data, offset, pooled) = TensorScope.Rent(n, clear);
        var t = new Tensor((int[])shape.Clone(), data, Device.Cpu, offset) { Pooled = pooled };
        if (pooled) TensorScope.Track(t);
        return t;
    }

    /// <summary>A new tensor with the same shape and uninitialised contents.</summary>
    public Tensor EmptyLike() => Empty(Shape);

    public Tensor ZerosLike() => Zeros(Shape);

    // ---- values -----------------------------------------------------------------------------------

    /// <summary>The single value of a one-element tensor.</summary>
    public float Item()
    {
        if (Size != 1) throw new InvalidOperationException($"Item: tensor {ShapeUtil.Format(Shape)} has {Size} elements, not 1");
        return Span[0];
    }

    public float[] ToArray() => ReadOnlySpan.ToArray();

    [IndexerName("At")]
    public float this[params int[] index]
    {
        get => Span[ShapeUtil.FlatIndex(Shape, index)];
        set => Span[ShapeUtil.FlatIndex(Shape, index)] = value;
    }

    /// <summary>A copy that does not take part in autograd (storage is copied).</summary>
    public Tensor Clone()
    {
        var t = Empty(Shape);
        ReadOnlySpan.CopyTo(t.Span);
        return t;
    }

    /// <summary>The same storage, cut from the tape: gradients do not flow through it.</summary>
    public Tensor Detach() => View(Shape);

    /// <summary>A tensor of another shape over the same storage (no autograd; see <c>Reshape</c> for the taped op).</summary>
    internal Tensor View(int[] shape)
    {
        var v = new Tensor((int[])shape.Clone(), Storage, Device, _offset);
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
        if (Pooled)
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
        if (!IsReleased)
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
