namespace Crt.Tensors.Nn;

/// <summary>
/// A node in a tree of layers, as in PyTorch: parameters, buffers and child modules are registered
/// under local names, and full names join the path with dots (<c>encoder.conv_in.weight</c>,
/// <c>layers.3.attention.wqkv.weight</c>), so a PyTorch/LlamaGen state dict maps onto it by name.
/// C# has no attribute hooks, so a subclass registers explicitly:
/// <code>Weight = RegisterParameter("weight", ...); Proj = RegisterModule("proj", new Linear(...));</code>
/// Parameters are leaves with RequiresGrad that live outside any TensorScope.
/// </summary>
public abstract class Module
{
    private readonly List<(string Name, Tensor Value)> _parameters = new();
    private readonly List<(string Name, Tensor Value, bool Persistent)> _buffers = new();
    private readonly List<(string Name, Module Value)> _children = new();
    private readonly HashSet<string> _names = new();

    /// <summary>True in training mode (dropout active, batch norm uses batch statistics).</summary>
    public bool Training { get; private set; } = true;

    // ---- registration -----------------------------------------------------------------------------

    /// <summary>Registers <paramref name="value"/> as a trainable parameter (sets RequiresGrad) and returns it.</summary>
    protected Tensor RegisterParameter(string name, Tensor value)
    {
        CheckName(name);
        if (value.Pooled)
            throw new ArgumentException($"{GetType().Name}: parameter '{name}' was allocated inside a TensorScope; create parameters outside one or under TensorScope.Suspend()");
        value.RequiresGrad = true;
        value.Name ??= name;
        _parameters.Add((name, value));
        return value;
    }

    /// <summary>
    /// Registers state that is not trained (running statistics, counters). Persistent buffers are part
    /// of the state dict, as in PyTorch.
    /// </summary>
    protected Tensor RegisterBuffer(string name, Tensor value, bool persistent = true)
    {
        CheckName(name);
        if (value.Pooled)
            throw new ArgumentException($"{GetType().Name}: buffer '{name}' was allocated inside a TensorScope; create buffers outside one or under TensorScope.Suspend()");
        value.Name ??= name;
        _buffers.Add((name, value, persistent));
        return value;
    }

    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        if (ReferenceEquals(module, this)) throw new ArgumentException($"{GetType().Name}: a module cannot be its own child ('{name}')");
        _children.Add((name, module));
        return module;
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"{GetType().Name}: '{name}' is not a valid name (non-empty, no dots)");
        if (!_names.Add(name))
            throw new ArgumentException($"{GetType().Name}: '{name}' is already registered");
    }

    /// <summary>Allocation for parameters and buffers, kept out of any active TensorScope's pool.</summary>
    protected static Tensor Persistent(Func<Tensor> create)
    {
        using (TensorScope.Suspend()) return create();
    }

    // ---- traversal ----------------------------------------------------------------------------------

    public IEnumerable<(string Name, Module Module)> NamedChildren() => _children;

    /// <summary>This module (name "") and every descendant, depth first in registration order.</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "")
    {
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        return Walk(prefix, seen);
    }

    private IEnumerable<(string, Module)> Walk(string prefix, HashSet<Module> seen)
    {
        if (!seen.Add(this)) yield break;
        yield return (prefix, this);
        foreach (var (name, child) in _children)
            foreach (var x in child.Walk(Join(prefix, name), seen)) yield return x;
    }

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;

    /// <summary>Every parameter with its full name; a parameter shared by two modules is listed once (as PyTorch).</summary>
    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters()
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, m) in NamedModules())
            foreach (var (name, p) in m._parameters)
                if (seen.Add(p)) yield return (Join(prefix, name), p);
    }

    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(np => np.Parameter);

    /// <summary>The device of the module's parameters (the CPU for a module without any).</summary>
    public Device Device => NamedParameters().Select(p => p.Parameter.Device).FirstOrDefault() ?? Device.Cpu;

    /// <summary>
    /// Moves every parameter and buffer to <paramref name="device"/> in place (the tensor objects stay, so optimizers made
    /// before the move keep working; their state follows at their next step). Returns this module.
    /// </summary>
    public Module To(Device device)
    {
        foreach (var (_, p) in NamedParameters()) p.MoveStorage(device);
        foreach (var (_, b) in NamedBuffers()) b.MoveStorage(device);
        return this;
    }

    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers()
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, m) in NamedModules())
            foreach (var (name, b, _) in m._buffers)
                if (seen.Add(b)) yield return (Join(prefix, name), b);
    }

    /// <summary>Number of trainable values (shared parameters counted once).</summary>
    public long ParameterCount => Parameters().Sum(p => (long)p.Size);

    // ---- modes and gradients ------------------------------------------------------------------------

    /// <summary>Sets training mode on this module and every descendant.</summary>
    public Module Train(bool mode = true)
    {
        foreach (var (_, m) in NamedModules()) m.Training = mode;
        return this;
    }

    public Module Eval() => Train(false);

    /// <summary>Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    // ---- state dict ---------------------------------------------------------------------------------

    /// <summary>Parameters and persistent buffers by full name, in PyTorch's order. The tensors are the live ones, not copies.</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>();
        foreach (var (prefix, m) in NamedModules())
        {
            foreach (var (name, p) in m._parameters) d[Join(prefix, name)] = p;
            foreach (var (name, b, persistent) in m._buffers) if (persistent) d[Join(prefix, name)] = b;
        }
        return d;
    }

    /// <summary>
    /// Copies values by name into this module's parameters and persistent buffers. Shape mismatches
    /// always throw; with <paramref name="strict"/> missing and unexpected keys throw too. The error
    /// names every offending key. Returns the missing and unexpected keys (empty when strict).
    /// </summary>
    public LoadResult LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        var own = StateDict();
        var missing = own.Keys.Where(k => !state.ContainsKey(k)).ToList();
        var unexpected = state.Keys.Where(k => !own.ContainsKey(k)).ToList();
        var mismatched = own.Where(kv => state.TryGetValue(kv.Key, out var v) && !ShapeUtil.SameShape(v.Shape, kv.Value.Shape))
            .Select(kv => $"'{kv.Key}': checkpoint has {ShapeUtil.Format(state[kv.Key].Shape)}, model has {ShapeUtil.Format(kv.Value.Shape)}")
            .ToList();
        var problems = new List<string>();
        if (mismatched.Count > 0) problems.Add("size mismatch for " + string.Join("; ", mismatched));
        if (strict && missing.Count > 0) problems.Add($"missing keys ({missing.Count}): {string.Join(", ", missing)}");
        if (strict && unexpected.Count > 0) problems.Add($"unexpected keys ({unexpected.Count}): {string.Join(", ", unexpected)}");
        if (problems.Count > 0)
            throw new InvalidOperationException($"LoadStateDict into {GetType().Name}: " + string.Join(". ", problems));

        foreach (var (name, dst) in own)
            if (state.TryGetValue(name, out var src))
                dst.CopyFrom(src);
        return new LoadResult(missing, unexpected);
    }

    public sealed record LoadResult(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys);

    /// <summary>Saves <see cref="StateDict"/> as a safetensors file (atomically).</summary>
    public void Save(string path, IReadOnlyDictionary<string, string>? metadata = null) => IO.SafeTensors.Save(path, StateDict(), metadata);

    /// <summary>Loads a safetensors file written by <see cref="Save"/> or converted from PyTorch.</summary>
    public LoadResult Load(string path, bool strict = true)
    {
        try { return LoadStateDict(IO.SafeTensors.Load(path), strict); }
        catch (InvalidOperationException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }

    public override string ToString() => $"{GetType().Name}({ParameterCount:N0} parameters)";
}
