using Nn = Crt.Tensors.Nn;

namespace Crt.Tensors.Optim;

/// <summary>
/// Exponential moving average of weights (as LlamaGen's update_ema): shadow ← decay·shadow + (1−decay)·param,
/// with shadow copies starting equal to the weights. <see cref="SwapIn"/> puts the averages into the
/// live tensors for evaluation and puts the trained weights back when disposed.
/// </summary>
public sealed class Ema
{
    private readonly List<(string Name, Tensor Live, Tensor Shadow)> _entries = new();

    /// <summary>Number of <see cref="Update"/> calls.</summary>
    public long Updates { get; private set; }

    /// <summary>Tracks the model's parameters, and with <paramref name="includeBuffers"/> its buffers (running statistics) too.</summary>
    public Ema(Nn.Module model, bool includeBuffers = false)
        : this(includeBuffers ? model.NamedParameters().Concat(model.NamedBuffers()) : model.NamedParameters()) { }

    public Ema(IEnumerable<(string Name, Tensor Tensor)> tensors)
    {
        using (TensorScope.Suspend())
            foreach (var (name, t) in tensors) _entries.Add((name, t, t.Clone()));
    }

    public IEnumerable<(string Name, Tensor Shadow)> NamedShadows() => _entries.Select(e => (e.Name, e.Shadow));

    public void Update(double decay)
    {
        if (!(decay >= 0 && decay <= 1)) throw new ArgumentOutOfRangeException(nameof(decay), $"Ema: decay {decay} is outside [0, 1]");
        // shadow + (live − shadow)·(1 − decay): one pass, and no cancellation when decay is close to 1.
        float c = (float)(1 - decay);
        foreach (var (_, live, shadow) in _entries)
            shadow.Device.Kernels.LerpInPlace(shadow, live, c);
        Updates++;
    }

    /// <summary>Exchanges live and shadow values until the returned handle is disposed.</summary>
    public IDisposable SwapIn()
    {
        Swap();
        return new Swapper(this);
    }

    /// <summary>Copies the averages into the live tensors for good (e.g. before exporting the EMA model).</summary>
    public void CopyToLive()
    {
        foreach (var (_, live, shadow) in _entries) live.Device.Kernels.Copy(shadow, live);
    }

    private void Swap()
    {
        foreach (var (_, live, shadow) in _entries)
        {
            var k = live.Device.Kernels;
            using var scope = TensorScope.Begin();
            var tmp = live.EmptyLike();
            k.Copy(live, tmp);
            k.Copy(shadow, live);
            k.Copy(tmp, shadow);
        }
    }

    private sealed class Swapper(Ema ema) : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            ema.Swap();
        }
    }

    /// <summary>The shadow tensors by name (for checkpoints), as live references.</summary>
    public Dictionary<string, Tensor> StateDict() => _entries.ToDictionary(e => e.Name, e => e.Shadow);

    /// <summary>Restores shadows by name; missing, unexpected and mis-shaped names are all reported.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        var problems = new List<string>();
        foreach (var (name, _, shadow) in _entries)
        {
            if (!state.TryGetValue(name, out var t)) problems.Add($"missing '{name}'");
            else if (!ShapeUtil.SameShape(t.Shape, shadow.Shape)) problems.Add($"'{name}' has shape {ShapeUtil.Format(t.Shape)}, expected {ShapeUtil.Format(shadow.Shape)}");
        }
        var known = _entries.Select(e => e.Name).ToHashSet();
        foreach (var k in state.Keys) if (!known.Contains(k)) problems.Add($"unexpected '{k}'");
        if (problems.Count > 0) throw new InvalidOperationException("Ema.LoadStateDict: " + string.Join("; ", problems));
        foreach (var (name, _, shadow) in _entries) shadow.CopyFrom(state[name]);
    }
}
