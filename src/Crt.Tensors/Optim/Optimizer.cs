namespace Crt.Tensors.Optim;

/// <summary>
/// Base of the optimizers: parameter groups by name (so state survives re-creating the model), a
/// step counter, gradients cleared with <see cref="ZeroGrad"/>, state saved and loaded by name.
/// </summary>
public abstract class Optimizer
{
    public IReadOnlyList<ParamGroup> Groups { get; }

    /// <summary>Number of completed <see cref="Step"/> calls (restored by <see cref="LoadState"/>).</summary>
    public long StepCount { get; protected set; }

    protected Optimizer(IEnumerable<ParamGroup> groups, double defaultLr, double defaultWeightDecay)
    {
        if (!(defaultLr >= 0)) throw new ArgumentException($"{GetType().Name}: learning rate must be non-negative, got {defaultLr}");
        Groups = groups.ToList();
        var names = new HashSet<string>();
        var tensors = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var g in Groups)
        {
            g.Lr ??= defaultLr;
            g.WeightDecay ??= defaultWeightDecay;
            foreach (var (name, p) in g.Parameters)
            {
                if (!names.Add(name)) throw new ArgumentException($"{GetType().Name}: parameter '{name}' appears twice");
                if (!tensors.Add(p)) throw new ArgumentException($"{GetType().Name}: parameter '{name}' is the same tensor as another parameter");
                if (!p.IsLeaf) throw new ArgumentException($"{GetType().Name}: parameter '{name}' is not a leaf tensor");
            }
        }
    }

    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters() => Groups.SelectMany(g => g.Parameters);

    /// <summary>Applies one update to every parameter that has a gradient.</summary>
    public abstract void Step();

    /// <summary>Drops every parameter's gradient (zero_grad(set_to_none=True)).</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in NamedParameters()) p.ZeroGrad();
    }

    /// <summary>Sets every group's learning rate to <paramref name="lr"/> × its LrScale (call once per step with a schedule's value).</summary>
    public void SetLr(double lr)
    {
        foreach (var g in Groups) g.Lr = lr * g.LrScale;
    }

    /// <summary>Writes the optimizer state to a safetensors file (atomically), keyed by parameter name.</summary>
    public abstract void SaveState(string path);

    /// <summary>Restores state written by <see cref="SaveState"/>; every mismatch names the parameter.</summary>
    public abstract void LoadState(string path);
}
