namespace Crt.Tensors.Nn;

/// <summary>A module with one tensor in and one out, so it can sit in a <see cref="Sequential"/>.</summary>
public interface ILayer
{
    Tensor Forward(Tensor x);
}

/// <summary>Children named 0, 1, 2, … as PyTorch's nn.ModuleList (full names <c>layers.3.attention.wqkv.weight</c>).</summary>
public sealed class ModuleList<T> : Module, IReadOnlyList<T> where T : Module
{
    private readonly List<T> _items = new();

    public ModuleList() { }

    public ModuleList(IEnumerable<T> items)
    {
        foreach (var m in items) Add(m);
    }

    public T Add(T module)
    {
        RegisterModule(_items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module);
        _items.Add(module);
        return module;
    }

    public T this[int index] => _items[index];
    public int Count => _items.Count;
    public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Layers applied in order, named 0, 1, 2, … as PyTorch's nn.Sequential.</summary>
public sealed class Sequential : Module, ILayer
{
    private readonly List<ILayer> _layers = new();

    public Sequential(params Module[] layers)
    {
        foreach (var m in layers)
        {
            if (m is not ILayer layer)
                throw new ArgumentException($"Sequential: {m.GetType().Name} is not a one-input layer (ILayer)");
            RegisterModule(_layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), m);
            _layers.Add(layer);
        }
    }

    public int Count => _layers.Count;

    public Tensor Forward(Tensor x)
    {
        foreach (var l in _layers) x = l.Forward(x);
        return x;
    }
}

/// <summary>A parameter-free function as a layer (nn.ReLU, nn.SiLU, …): it keeps Sequential's indices aligned with PyTorch's.</summary>
public sealed class Activation : Module, ILayer
{
    private readonly Func<Tensor, Tensor> _f;
    public string Kind { get; }

    public Activation(Func<Tensor, Tensor> f, string kind = "activation") { _f = f; Kind = kind; }

    public static Activation Relu() => new(Ops.Relu, "relu");
    public static Activation Silu() => new(Ops.Silu, "silu");
    public static Activation Tanh() => new(Ops.Tanh, "tanh");
    public static Activation Gelu(bool tanhApproximation = false) => new(x => Ops.Gelu(x, tanhApproximation), "gelu");

    public Tensor Forward(Tensor x) => _f(x);
}
