using System.Text;

namespace Crt.Tensors.IO.Torch;

/// <summary>
/// The policy torch.save files are read under: which globals a checkpoint may name and what the few
/// allowed "calls" build. Allowed are the tensor-rebuild functions, the storage types, OrderedDict,
/// set, torch.Size, bytes (as protocol 2 encodes them) and argparse.Namespace (LlamaGen saves its
/// training arguments as one; kept as inert data). Any other global is refused when the pickle names
/// it, before anything could use it — crt never runs code from a checkpoint.
/// </summary>
internal sealed class TorchPickleHooks(string path, Func<string, ZipEntry?> storageEntry) : IPickleHooks
{
    private static readonly PickleGlobal OrderedDict = new("collections", "OrderedDict");
    private static readonly PickleGlobal RebuildTensorV2 = new("torch._utils", "_rebuild_tensor_v2");
    private static readonly PickleGlobal RebuildTensor = new("torch._utils", "_rebuild_tensor");
    private static readonly PickleGlobal RebuildParameter = new("torch._utils", "_rebuild_parameter");
    private static readonly PickleGlobal RebuildParameterWithState = new("torch._utils", "_rebuild_parameter_with_state");
    private static readonly PickleGlobal RebuildFromType = new("torch._tensor", "_rebuild_from_type_v2");
    private static readonly PickleGlobal TensorType = new("torch", "Tensor");
    private static readonly PickleGlobal ParameterType = new("torch.nn.parameter", "Parameter");
    private static readonly PickleGlobal TorchSize = new("torch", "Size");
    private static readonly PickleGlobal Namespace = new("argparse", "Namespace");
    private static readonly PickleGlobal CodecsEncode = new("_codecs", "encode");

    private static readonly Dictionary<string, TorchDtype> StorageTypes = new()
    {
        ["FloatStorage"] = TorchDtype.Float32, ["HalfStorage"] = TorchDtype.Float16, ["BFloat16Storage"] = TorchDtype.BFloat16,
        ["DoubleStorage"] = TorchDtype.Float64, ["LongStorage"] = TorchDtype.Int64, ["IntStorage"] = TorchDtype.Int32,
        ["ShortStorage"] = TorchDtype.Int16, ["CharStorage"] = TorchDtype.Int8, ["ByteStorage"] = TorchDtype.UInt8,
        ["BoolStorage"] = TorchDtype.Bool,
    };

    private static readonly HashSet<PickleGlobal> Allowed = new()
    {
        OrderedDict, RebuildTensorV2, RebuildTensor, RebuildParameter, RebuildParameterWithState, RebuildFromType,
        TensorType, ParameterType, TorchSize, Namespace, CodecsEncode,
    };

    private readonly Dictionary<string, TorchStorage> _storages = new(StringComparer.Ordinal);

    private InvalidDataException Bad(string what) => new($"{path}: {what}");

    public object Global(string module, string name)
    {
        // Protocol 2 writes Python 3's builtins under their Python 2 name.
        if (module is "builtins" or "__builtin__" && name is "set" or "frozenset") return new PickleGlobal("builtins", name);
        var g = new PickleGlobal(module, name);
        if (Allowed.Contains(g) || module == "torch" && StorageTypes.ContainsKey(name)) return g;
        throw Bad($"the checkpoint refers to {module}.{name}, which crt does not load. crt reads only tensors, plain containers "
            + "(dict, OrderedDict, list, tuple, set), numbers, strings and argparse.Namespace, and never runs code from a checkpoint. "
            + "If the file is one you trust and holds other Python objects beside the weights, keep only the weights with PyTorch: "
            + "torch.save({'model': torch.load('IN.pt', map_location='cpu')['model']}, 'OUT.pt')");
    }

    public object? Call(object callable, object?[] args)
    {
        if (callable is not PickleGlobal g) throw Bad($"the pickle calls {PickleMachine.Describe(callable)}, which is not a function crt knows");
        if (g == RebuildTensorV2 || g == RebuildTensor) return RebuildStridedTensor(g, args);
        if (g == RebuildParameter || g == RebuildParameterWithState)
            return args.Length >= 1 && args[0] is TorchTensor t ? t : throw Bad($"{g} without a tensor as its first argument");
        if (g == RebuildFromType)
        {
            // torch 2's wrapper for tensors of a (sub)type: (rebuild function, type, its arguments, state).
            if (args.Length != 4 || args[0] is not PickleGlobal f || (f != RebuildTensorV2 && f != RebuildTensor) || args[2] is not object?[] inner)
                throw Bad($"{g} with arguments crt does not recognise");
            if (args[1] is not PickleGlobal type || (type != TensorType && type != ParameterType))
                throw Bad($"{g} builds a {PickleMachine.Describe(args[1])}, not a plain tensor or parameter");
            if (args[3] is PickleDict { Count: > 0 }) throw Bad($"{g}: a tensor with Python attributes set on it, which crt does not read");
            return RebuildStridedTensor(f, inner);
        }
        if (g == OrderedDict)
        {
            var d = new PickleDict();
            if (args.Length == 1 && args[0] is List<object?> pairs)
                foreach (var p in pairs)
                {
                    var kv = p as object?[] ?? (p as List<object?>)?.ToArray();
                    if (kv is not { Length: 2 } || kv[0] is not (null or string or long or bool or double))
                        throw Bad("OrderedDict built from something other than (name or number, value) pairs");
                    d.Set(kv[0], kv[1]);
                }
            else if (args.Length != 0) throw Bad("OrderedDict with arguments crt does not recognise");
            return d;
        }
        if (g.Module == "builtins" && g.Name is "set" or "frozenset")
            return args.Length switch
            {
                0 => new PickleSet(new List<object?>()),
                1 when args[0] is List<object?> items => new PickleSet(new List<object?>(items)),
                _ => throw Bad($"{g} with arguments crt does not recognise"),
            };
        if (g == TorchSize)
            return args.Length == 1 && args[0] is List<object?> or object?[] ? Sequence(args[0])!.ToArray() : throw Bad("torch.Size without a list of sizes");
        if (g == CodecsEncode)
        {
            // How protocol 2 writes a bytes object: _codecs.encode(text, 'latin1').
            if (args is not [string text, string enc]) throw Bad("_codecs.encode with arguments crt does not recognise");
            return enc is "latin1" or "latin-1" ? Encoding.Latin1.GetBytes(text) : enc is "utf-8" or "utf8" ? Encoding.UTF8.GetBytes(text)
                : throw Bad($"_codecs.encode with encoding '{enc}'");
        }
        if (g == Namespace)
            return args.Length == 0 ? new PickleObject(g, args) : throw Bad("argparse.Namespace created with arguments");
        throw Bad($"the pickle calls {g}, which crt does not do");
    }

    public void Build(object? target, object? state)
    {
        // BUILD's state is a dict of attributes, or (attributes, slot attributes).
        PickleDict? attrs = state switch
        {
            PickleDict d => d,
            object?[] { Length: 2 } t when t[0] is PickleDict or null && t[1] is PickleDict or null => Merge(t[0] as PickleDict, t[1] as PickleDict),
            null => null,
            _ => throw Bad($"BUILD of {PickleMachine.Describe(target)} with a {PickleMachine.Describe(state)} state"),
        };
        switch (target)
        {
            case PickleDict d: d.Attributes = attrs; break;      // an OrderedDict state dict's _metadata
            case PickleObject o: o.Attributes = attrs; break;    // argparse.Namespace's fields
            default: throw Bad($"BUILD on {PickleMachine.Describe(target)}, which crt does not set attributes on");
        }
    }

    private static PickleDict? Merge(PickleDict? a, PickleDict? b)
    {
        if (b is null) return a;
        var m = new PickleDict();
        foreach (var kv in (a?.Items ?? Array.Empty<KeyValuePair<object?, object?>>()).Concat(b.Items)) m.Set(kv.Key, kv.Value);
        return m;
    }

    public object? PersistentLoad(object? id)
    {
        // torch.save's persistent id of a storage: ('storage', torch.<Type>Storage, key, location, numel).
        if (id is not object?[] { Length: 5 } t || t[0] is not "storage")
            throw Bad($"a persistent id crt does not recognise ({PickleMachine.Describe(id)}); torch.save writes ('storage', type, key, location, numel)");
        if (t[1] is not PickleGlobal { Module: "torch" } st || !StorageTypes.TryGetValue(st.Name, out var dtype))
            throw Bad($"a storage of type {PickleMachine.Describe(t[1])}, which crt does not read");
        if (t[2] is not string key || t[3] is not string location || t[4] is not long numel || numel < 0)
            throw Bad("a storage reference with a malformed key, location or size");
        if (_storages.TryGetValue(key, out var seen))
        {
            if (seen.Dtype != dtype || seen.Numel != numel) throw Bad($"storage {key} is referred to with two different types or sizes; the file is damaged");
            return seen;
        }
        var entry = storageEntry(key) ?? throw Bad($"storage {key} is referred to, but the archive has no data/{key} entry; the file is damaged");
        long bytes = numel * TorchStorage.ElementSize(dtype);
        if (numel > long.MaxValue / 8 || entry.Size != bytes)
            throw Bad($"storage data/{key} holds {entry.Size} bytes, but the pickle says {numel} {dtype} elements ({bytes} bytes); the file is damaged");
        return _storages[key] = new TorchStorage(key, dtype, numel, location);
    }

    private TorchTensor RebuildStridedTensor(PickleGlobal g, object?[] args)
    {
        // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata]); _rebuild_tensor has the first four.
        int expected = g == RebuildTensor ? 4 : 6;
        if (args.Length < expected || args.Length > expected + 1) throw Bad($"{g} with {args.Length} arguments");
        if (args[0] is not TorchStorage storage) throw Bad($"{g} without a storage as its first argument");
        if (args[1] is not long offset || offset < 0) throw Bad($"{g}: storage offset {PickleMachine.Describe(args[1])} is not a non-negative integer");
        var size = Ints(g, args[2], "size");
        var stride = Ints(g, args[3], "stride");
        if (size.Length != stride.Length) throw Bad($"{g}: {size.Length} sizes but {stride.Length} strides");
        var shape = new int[size.Length];
        long numel = 1, last = offset;
        try
        {
            for (int i = 0; i < size.Length; i++)
            {
                if (size[i] < 0 || size[i] > int.MaxValue) throw Bad($"{g}: size {size[i]} in dimension {i} is out of range");
                if (stride[i] < 0) throw Bad($"{g}: negative stride {stride[i]} in dimension {i}");
                shape[i] = (int)size[i];
                numel = checked(numel * size[i]);
                if (size[i] > 0) last = checked(last + (size[i] - 1) * stride[i]);
            }
        }
        catch (OverflowException) { throw Bad($"{g}: sizes [{string.Join(", ", size)}] with strides [{string.Join(", ", stride)}] overflow; the file is damaged"); }
        if (numel > Array.MaxLength) throw Bad($"a tensor of {numel} elements, more than crt holds in one tensor");
        if (numel > 0 && last >= storage.Numel)
            throw Bad($"a tensor [{string.Join(", ", size)}] (offset {offset}, strides [{string.Join(", ", stride)}]) reaches element {last} of storage data/{storage.Key}, which has {storage.Numel}; the file is damaged");
        return new TorchTensor(storage, offset, shape, stride);
    }

    private long[] Ints(PickleGlobal g, object? v, string what)
    {
        var seq = Sequence(v) ?? throw Bad($"{g}: {what} is {PickleMachine.Describe(v)}, not a tuple of integers");
        if (seq.Count > 16) throw Bad($"{g}: a tensor of {seq.Count} dimensions");
        return seq.Select(x => x is long l ? l : throw Bad($"{g}: {what} holds {PickleMachine.Describe(x)}, not an integer")).ToArray();
    }

    private static IReadOnlyList<object?>? Sequence(object? v) => v switch { object?[] t => t, List<object?> l => l, _ => null };
}
