using System.Runtime.InteropServices;
using Crt.Tensors.Kernels.Cpu;
using ILGPU;
using ILGPU.Runtime;

namespace Crt.Tensors.Backends.Ilgpu;

/// <summary>
/// The kernel table of an ILGPU device. Each entry launches kernels from <see cref="GpuPointwise"/>,
/// <see cref="GpuModelKernels"/>, <see cref="GpuConvKernels"/>, <see cref="GpuImageKernels"/>, <see cref="GpuNormKernels"/>,
/// <see cref="GpuGatherKernels"/> and <see cref="GpuRandom"/>, composing them where an op is several steps (attention is
/// scores → masked softmax → weighted sum; a convolution is im2col → GEMM). Integer inputs (targets, indices, shape
/// metadata) and host tables are uploaded into pooled device tensors, so they are recycled with the step's other
/// temporaries. The table implements every entry of <see cref="KernelTable"/>.
/// </summary>
internal sealed partial class IlgpuKernelTable(string deviceName, IlgpuBackend backend) : KernelTable
{
    public override string DeviceName => deviceName;

    private Accelerator Acc => backend.Accelerator;

    private readonly Dictionary<System.Reflection.MethodInfo, Delegate> _loaded = new();

    private static readonly System.Reflection.MethodInfo[] Loaders = typeof(KernelLoaders).GetMethods()
        .Where(m => m.Name == nameof(KernelLoaders.LoadAutoGroupedStreamKernel) && m.GetParameters().Length == 2).ToArray();

    /// <summary>
    /// The launcher of a kernel on this accelerator (same signature, the default stream), compiled on first use and
    /// cached: <c>Launcher(GpuPointwise.Copy)(threads, x, y, launch)</c>. ILGPU's loader has one generic overload per
    /// parameter count; the kernel's delegate type picks it.
    /// </summary>
    private T Launcher<T>(T kernel) where T : Delegate
    {
        lock (_loaded)
        {
            if (_loaded.TryGetValue(kernel.Method, out var launcher)) return (T)launcher;
            var types = typeof(T).GetGenericArguments();
            var loader = Loaders.Single(m => m.GetGenericArguments().Length == types.Length).MakeGenericMethod(types);
            _loaded[kernel.Method] = launcher = (Delegate)loader.Invoke(null, [Acc, kernel])!;
            return (T)launcher;
        }
    }

    /// <summary>A kernel from one tensor into another, with its shape struct, over <paramref name="n"/> elements (none when 0).</summary>
    private void ViewKernel<TShape>(Action<Index1D, ArrayView<float>, ArrayView<float>, TShape, Launch> kernel, Tensor src, Tensor dst, TShape shape, long n)
        where TShape : struct
    {
        if (n == 0) return;
        var l = L(n);
        Launcher(kernel)(l.Threads, V(src), V(dst), shape, l);
    }

    private static ArrayView<float> V(Tensor t) => ((IlgpuMemory)t.Memory).View;

    /// <summary>An empty view where a kernel's optional operand is absent (never read).</summary>
    private ArrayView<float> VOrDummy(Tensor? t) => t is null ? V(Dummy) : V(t);

    private Tensor? _dummy;
    private Tensor Dummy
    {
        get
        {
            if (_dummy is null) using (TensorScope.Suspend()) _dummy = Tensor.Zeros(Device.Parse(deviceName), 1);
            return _dummy;
        }
    }

    private Device? _device;

    /// <summary>This table's device (looked up once: kernels allocate on it for every op).</summary>
    private Device Dev => _device ??= Device.Parse(deviceName);

    /// <summary>Integers on the device, in a pooled float tensor reinterpreted as int (see <see cref="IntView"/>).</summary>
    private Tensor Ints(ReadOnlySpan<int> data)
    {
        var t = Tensor.Empty(Dev, Math.Max(data.Length, 1));
        backend.CopyFromHost(MemoryMarshal.Cast<int, float>(data), t.Memory);
        return t;
    }

    private static ArrayView<int> IntView(Tensor t) => V(t).Cast<int>();

    /// <summary>Host floats (tables such as resize weights) uploaded into a pooled device tensor.</summary>
    private Tensor Floats(ReadOnlySpan<float> data)
    {
        var t = Tensor.Empty(Dev, Math.Max(data.Length, 1));
        backend.CopyFromHost(data, t.Memory);
        return t;
    }

    private int Threads(long work) => (int)Math.Clamp(work, 1, backend.MaxThreads);

    private Launch L(long n, int op = 0, float p = 0, float q = 0, int i0 = 0, int i1 = 0, int i2 = 0, int i3 = 0) =>
        new() { N = checked((int)n), Threads = Threads(n), Op = op, P = p, Q = q, I0 = i0, I1 = i1, I2 = i2, I3 = i3 };

    // ---- memory and pointwise ------------------------------------------------------------------------
    public override void Fill(Tensor y, float value)
    {
        if (y.Size == 0) return;
        var l = L(y.Size, p: value);
        Launcher(GpuPointwise.Fill)(l.Threads, V(y), l);
    }

    public override void Copy(Tensor src, Tensor dst)
    {
        if (src.Size == 0) return;
        var l = L(src.Size);
        Launcher(GpuPointwise.Copy)(l.Threads, V(src), V(dst), l);
    }

    public override void AddInPlace(Tensor acc, Tensor x)
    {
        if (acc.Size == 0) return;
        var l = L(acc.Size);
        Launcher(GpuPointwise.AddInPlace)(l.Threads, V(acc), V(x), l);
    }

    public override void LerpInPlace(Tensor a, Tensor b, float t)
    {
        if (a.Size == 0) return;
        var l = L(a.Size, p: t);
        Launcher(GpuPointwise.Lerp)(l.Threads, V(a), V(b), l);
    }

    public override void Unary(UnaryOp op, Tensor x, Tensor y, float p = 0, float q = 0)
    {
        if (x.Size == 0) return;
        var l = L(x.Size, (int)op, p, q);
        Launcher(GpuPointwise.Unary)(l.Threads, V(x), V(y), l);
    }

    public override void UnaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor g, Tensor dx, float p = 0, float q = 0)
    {
        if (x.Size == 0) return;
        var l = L(x.Size, (int)op, p, q);
        Launcher(GpuPointwise.UnaryBackward)(l.Threads, V(x), V(y), V(g), V(dx), l);
    }

    /// <summary>Strides of <paramref name="shape"/> over the dims of <paramref name="target"/> (right-aligned; 0 where it broadcasts).</summary>
    private static int[] StridesOver(int[] shape, int[] target)
    {
        var strides = new int[target.Length];
        int stride = 1;
        for (int d = target.Length - 1, s = shape.Length - 1; d >= 0; d--, s--)
        {
            int size = s >= 0 ? shape[s] : 1;
            strides[d] = size == 1 ? 0 : stride;
            stride *= size;
        }
        return strides;
    }

    public override void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y)
    {
        if (y.Size == 0) return;
        int rank = y.Rank;
        var meta = Ints([rank, .. y.Shape, .. StridesOver(a.Shape, y.Shape), .. StridesOver(b.Shape, y.Shape)]);
        var l = L(y.Size, (int)op);
        Launcher(GpuPointwise.Binary)(l.Threads, V(a), V(b), V(y), IntView(meta), l);
    }

    public override void ReduceTo(Tensor g, Tensor r)
    {
        if (r.Size == 0) return;
        int rank = g.Rank;
        var rPadded = new int[rank];
        for (int d = rank - 1, s = r.Rank - 1; d >= 0; d--, s--) rPadded[d] = s >= 0 ? r.Shape[s] : 1;
        int reduceCount = 1;
        for (int d = 0; d < rank; d++) if (rPadded[d] == 1 && g.Shape[d] != 1) reduceCount *= g.Shape[d];
        var meta = Ints([rank, .. rPadded, .. g.Shape, .. ShapeUtil.Strides(g.Shape)]);
        var l = L(r.Size, i0: reduceCount);
        Launcher(GpuPointwise.ReduceTo)(l.Threads, V(g), V(r), IntView(meta), l);
    }

    // ---- reductions -----------------------------------------------------------------------------------
    /// <summary>Σ f(x) (Op 0: x, 1: x², 2: |x|) · scale into y[at], in two deterministic stages.</summary>
    private void FullSum(Tensor x, int op, float scale, Tensor y, int at = 0)
    {
        int threads = Threads(x.Size);
        // The partials live in a pooled tensor (two floats per double): no allocation, free or wait per sum.
        var partial = V(Tensor.Empty(Dev, 2 * threads)).Cast<double>();
        var l = L(x.Size, op) with { Threads = threads };
        Launcher(GpuPointwise.PartialSums)(threads, x.Size == 0 ? V(Dummy) : V(x), partial, l);
        var f = new Launch { N = threads, Threads = 1, P = scale, I0 = at };
        Launcher(GpuPointwise.FinishSum)(1, partial, V(y), f);
    }

    public override void SumAll(Tensor x, float scale, Tensor y) => FullSum(x, 0, scale, y);

    public override double SumOfSquares(Tensor x)
    {
        using var scope = TensorScope.Begin();
        var y = Tensor.Empty(Dev, 1);
        FullSum(x, 1, 1f, y);
        return y.Item();
    }

    public override void SumAxis(Tensor x, int outer, int n, int inner, float scale, Tensor y)
    {
        if (y.Size == 0) return;
        var l = L((long)outer * inner, p: scale, i0: n, i1: inner);
        Launcher(GpuPointwise.SumAxis)(l.Threads, V(x), V(y), l);
    }

    public override void ExpandAxis(Tensor g, int outer, int n, int inner, float scale, Tensor dx)
    {
        if (dx.Size == 0) return;
        var l = L(dx.Size, p: scale, i0: n, i1: inner);
        Launcher(GpuPointwise.ExpandAxis)(l.Threads, V(g), V(dx), l);
    }

    private Tensor MaxAxisInto(Tensor x, int outer, int n, int inner, Tensor y, bool min)
    {
        var arg = Tensor.Empty(Dev, Math.Max(outer * inner, 1));
        var l = L((long)outer * inner, min ? 1 : 0, i0: n, i1: inner);
        if (l.N > 0)
            Launcher(GpuPointwise.MaxAxis)(l.Threads, V(x), V(y), IntView(arg), l);
        return arg;
    }

    public override object MaxAxis(Tensor x, int outer, int n, int inner, Tensor y) => MaxAxisInto(x, outer, n, inner, y, min: false);

    public override void MaxAxisBackward(object saved, Tensor g, int outer, int n, int inner, Tensor dx)
    {
        var l = L((long)outer * inner, i0: n, i1: inner);
        if (l.N == 0) return;
        Launcher(GpuPointwise.MaxAxisBackward)(l.Threads, V(g), IntView((Tensor)saved), V(dx), l);
    }

    public override int[] ArgExtreme(Tensor x, int outer, int n, int inner, bool min)
    {
        using var scope = TensorScope.Begin();
        var values = Tensor.Empty(Dev, Math.Max(outer * inner, 1));
        var arg = MaxAxisInto(x, outer, n, inner, values, min);
        return MemoryMarshal.Cast<float, int>(arg.ToArray()).Slice(0, outer * inner).ToArray();
    }

    // ---- layout ---------------------------------------------------------------------------------------
    public override void Permute(Tensor x, int[] dims, Tensor y)
    {
        if (y.Size == 0) return;
        var xStrides = ShapeUtil.Strides(x.Shape);
        var meta = Ints([y.Rank, .. y.Shape, .. dims.Select(d => xStrides[d])]);
        var l = L(y.Size);
        Launcher(GpuPointwise.Permute)(l.Threads, V(x), V(y), IntView(meta), l);
    }

    private void Slice(int mode, Tensor x, Tensor y, int outer, int n, int inner, int start, int len)
    {
        var l = L((long)outer * len * inner, mode, i0: n, i1: inner, i2: start, i3: len);
        if (l.N == 0) return;
        Launcher(GpuPointwise.Slice)(l.Threads, V(x), V(y), l);
    }

    public override void SliceAxis(Tensor x, int outer, int n, int inner, int start, int len, Tensor y) => Slice(0, x, y, outer, n, inner, start, len);
    public override void AddIntoSlice(Tensor y, int outer, int n, int inner, int start, int len, Tensor x) => Slice(1, x, y, outer, n, inner, start, len);
    public override void CopyIntoSlice(Tensor y, int outer, int n, int inner, int start, int len, Tensor x) => Slice(2, x, y, outer, n, inner, start, len);

    public override void IndexSelect(Tensor x, int outer, int n, int inner, int[] index, Tensor y)
    {
        var l = L(y.Size, i0: n, i1: inner, i2: index.Length);
        if (l.N == 0) return;
        Launcher(GpuPointwise.IndexSelect)(l.Threads, V(x), IntView(Ints(index)), V(y), l);
    }

    public override void IndexSelectBackward(Tensor g, int outer, int n, int inner, int[] index, Tensor dx)
    {
        var l = L(dx.Size, i0: n, i1: inner, i2: index.Length);
        if (l.N == 0) return;
        Launcher(GpuPointwise.IndexSelectBackward)(l.Threads, V(g), IntView(Ints(index)), V(dx), l);
    }

    // ---- embedding and optimizers -------------------------------------------------------------------
    public override void GatherRows(Tensor table, int d, int[] indices, Tensor y)
    {
        var l = L(y.Size, i0: d);
        if (l.N == 0) return;
        Launcher(GpuPointwise.GatherRows)(l.Threads, V(table), IntView(Ints(indices)), V(y), l);
    }

    public override void ScatterAddRows(Tensor g, int d, int[] indices, Tensor table)
    {
        var l = L(d, i0: d, i1: indices.Length);
        if (l.N == 0 || indices.Length == 0) return;
        Launcher(GpuPointwise.ScatterAddRows)(l.Threads, V(g), IntView(Ints(indices)), V(table), l);
    }

    public override void AdamStep(Tensor p, Tensor grad, Tensor m, Tensor v, in AdamStepArgs args)
    {
        if (p.Size == 0) return;
        var a = new AdamArgs
        {
            Beta1 = args.Beta1, Beta2 = args.Beta2, Eps = args.Eps, DecayFactor = args.DecayFactor, L2 = args.L2,
            StepSize = args.StepSize, Bc2Sqrt = args.Bc2Sqrt,
        };
        var l = L(p.Size);
        Launcher(GpuPointwise.AdamStep)(l.Threads, V(p), V(grad), V(m), V(v), a, l);
    }

    public override void Rotary(Tensor x, Tensor table, Tensor y, int b, int t, int h, int d, bool inverse)
    {
        var l = L((long)b * t * h * (d / 2), inverse ? 1 : 0, i0: t, i1: h, i2: d);
        if (l.N == 0) return;
        Launcher(GpuPointwise.Rotary)(l.Threads, V(x), V(table), V(y), l);
    }
}
