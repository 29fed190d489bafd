using System.Numerics;

namespace Crt.Tensors.IO.Torch;

// What crt's restricted unpickler builds. Everything is plain data: Python's None, bool, int, float,
// str and bytes become null, bool, long (BigInteger beyond 64 bits), double, string and byte[]; a list
// is a List<object?>, a tuple an object?[], a dict a PickleDict, a set a PickleSet. Nothing here can run.

/// <summary>A Python dict or OrderedDict, in insertion order. Keys are strings, integers, floats, bools, None or tuples of those.</summary>
public sealed class PickleDict
{
    private readonly List<KeyValuePair<object?, object?>> _items = new();
    private readonly Dictionary<object, int> _index = new(PickleKeyComparer.Instance);
    private static readonly object NoneKey = new();

    public IReadOnlyList<KeyValuePair<object?, object?>> Items => _items;
    public int Count => _items.Count;

    /// <summary>Attributes a pickle set on the object (an OrderedDict state dict carries torch's _metadata); kept, never used.</summary>
    public PickleDict? Attributes { get; internal set; }

    public void Set(object? key, object? value)
    {
        var k = key ?? NoneKey;
        if (_index.TryGetValue(k, out int i)) _items[i] = new(key, value);
        else { _index[k] = _items.Count; _items.Add(new(key, value)); }
    }

    public bool TryGet(object? key, out object? value)
    {
        if (_index.TryGetValue(key ?? NoneKey, out int i)) { value = _items[i].Value; return true; }
        value = null;
        return false;
    }

    public bool ContainsKey(string key) => _index.ContainsKey(key);

    public object? this[string key] => TryGet(key, out var v) ? v : throw new KeyNotFoundException(key);

    /// <summary>Python equality for the key types a checkpoint uses: 1 == 1.0 == True, tuples element-wise.</summary>
    private sealed class PickleKeyComparer : IEqualityComparer<object>
    {
        public static readonly PickleKeyComparer Instance = new();

        public new bool Equals(object? a, object? b)
        {
            if (ReferenceEquals(a, b)) return true;
            if (a is null || b is null) return false;
            if (Number(a) is { } x && Number(b) is { } y) return x == y;
            if (a is object?[] ta && b is object?[] tb)
            {
                if (ta.Length != tb.Length) return false;
                for (int i = 0; i < ta.Length; i++)
                    if (!(ta[i] is null && tb[i] is null) && (ta[i] is null || tb[i] is null || !Equals(ta[i]!, tb[i]!))) return false;
                return true;
            }
            if (a is byte[] ba && b is byte[] bb) return ba.AsSpan().SequenceEqual(bb);
            return a.Equals(b);
        }

        public int GetHashCode(object o) => o switch
        {
            _ when Number(o) is { } n => n.GetHashCode(),
            object?[] t => t.Aggregate(17, (h, e) => h * 31 + (e is null ? 0 : GetHashCode(e))),
            byte[] b => b.Length,
            _ => o.GetHashCode(),
        };

        private static double? Number(object o) => o switch
        {
            long l => l, double d => d, bool b => b ? 1 : 0, BigInteger bi => (double)bi, _ => null,
        };
    }
}

/// <summary>A Python set or frozenset, as a list of its members.</summary>
public sealed class PickleSet(List<object?> items)
{
    public List<object?> Items { get; } = items;
}

/// <summary>A reference to a Python global (module.name) that the reader's policy allowed. It is a name, never something called.</summary>
public sealed record PickleGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>
/// An instance of an allowed plain-data class (argparse.Namespace): the class, the arguments it was
/// created with and the attributes set on it. Inert: its class is never instantiated.
/// </summary>
public sealed class PickleObject(PickleGlobal type, object?[] args)
{
    public PickleGlobal Type { get; } = type;
    public object?[] Args { get; } = args;
    public PickleDict? Attributes { get; internal set; }
}
