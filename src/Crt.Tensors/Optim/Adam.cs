using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Crt.Tensors.IO;
using Crt.Tensors.Kernels.Cpu;

namespace Crt.Tensors.Optim;

/// <summary>
/// torch.optim.Adam (amsgrad=False) with weight decay as L2 added to the gradient. Per parameter:
/// t ← t+1; m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
/// p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + eps), bias corrections in double as PyTorch does.
/// Parameters without a gradient are skipped and their step count does not advance (as PyTorch).
/// </summary>
public class Adam : Optimizer
{
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }

    /// <summary>Decoupled decay (AdamW) instead of L2.</summary>
    protected virtual bool Decoupled => false;

    private readonly Dictionary<string, State> _state = new();

    private sealed class State
    {
        public long Step;
        public required Tensor M, V; // on the parameter's device
    }

    public Adam(IEnumerable<(string Name, Tensor Parameter)> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : this(new[] { new ParamGroup(parameters) }, lr, beta1, beta2, eps, weightDecay) { }

    public Adam(IEnumerable<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : base(groups, lr, weightDecay)
    {
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
            throw new ArgumentException($"{GetType().Name}: betas must lie in [0, 1), got ({beta1}, {beta2})");
        if (!(eps >= 0)) throw new ArgumentException($"{GetType().Name}: eps must be non-negative, got {eps}");
        Beta1 = beta1; Beta2 = beta2; Eps = eps;
    }

    /// <summary>The step count of one parameter (0 before its first update).</summary>
    public long ParameterStep(string name) => _state.TryGetValue(name, out var s) ? s.Step : 0;

    /// <summary>First and second moments of one parameter (null before its first update), copied to the host.</summary>
    public (float[] ExpAvg, float[] ExpAvgSq)? Moments(string name) => _state.TryGetValue(name, out var s) ? (s.M.ToArray(), s.V.ToArray()) : null;

    /// <summary>
    /// Zeroes both moments of the given rows (first dimension) of one parameter, as if those rows had never been
    /// updated: for rows the caller re-initialised, which stale momentum would otherwise push. The step count stays.
    /// </summary>
    public void ResetRows(string name, IReadOnlyList<int> rows)
    {
        if (!Groups.Any(g => g.Parameters.Any(p => p.Name == name)))
            throw new ArgumentException($"{GetType().Name}: no parameter named '{name}'");
        if (!_state.TryGetValue(name, out var s) || rows.Count == 0) return;
        if (s.M.Rank == 0) throw new ArgumentException($"{GetType().Name}: '{name}' is a scalar and has no rows");
        int rowLength = s.M.Size / s.M.Shape[0];
        foreach (var t in new[] { s.M, s.V })
        {
            var values = t.ToArray();
            foreach (int r in rows)
            {
                if ((uint)r >= (uint)t.Shape[0]) throw new ArgumentOutOfRangeException(nameof(rows), $"{GetType().Name}: row {r} of '{name}' {ShapeUtil.Format(t.Shape)}");
                Array.Clear(values, r * rowLength, rowLength);
            }
            t.CopyFrom(Tensor.FromArray(values, t.Shape));
        }
    }

    public override void Step()
    {
        using var _ = Tensor.NoGrad();
        foreach (var group in Groups)
        {
            double lr = group.Lr!.Value, wd = group.WeightDecay!.Value;
            foreach (var (name, p) in group.Parameters)
            {
                if (p.Grad is not { } grad) continue;
                if (!ShapeUtil.SameShape(grad.Shape, p.Shape))
                    throw new InvalidOperationException($"{GetType().Name}: gradient {ShapeUtil.Format(grad.Shape)} of '{name}' does not match the parameter {ShapeUtil.Format(p.Shape)}");
                if (!_state.TryGetValue(name, out var s))
                {
                    using var persistent = TensorScope.Suspend();
                    _state[name] = s = new State { M = Tensor.Zeros(p.Device, p.Shape), V = Tensor.Zeros(p.Device, p.Shape) };
                }
                if (!ReferenceEquals(s.M.Device, p.Device)) { s.M.MoveStorage(p.Device); s.V.MoveStorage(p.Device); } // the module moved
                s.Step++;
                double bc1 = 1 - Math.Pow(Beta1, s.Step), bc2 = 1 - Math.Pow(Beta2, s.Step);
                var args = new AdamStepArgs(
                    (float)Beta1, (float)Beta2, (float)Eps,
                    DecayFactor: Decoupled ? (float)(1 - lr * wd) : 1f,
                    L2: Decoupled ? 0f : (float)wd,
                    StepSize: (float)(lr / bc1),
                    Bc2Sqrt: (float)Math.Sqrt(bc2));
                Device.KernelsOf(GetType().Name, p, grad).AdamStep(p, grad, s.M, s.V, args);
            }
        }
        StepCount++;
    }

    // ---- state ----------------------------------------------------------------------------------------

    private const string MetadataKey = "crt.optimizer";

    public override void SaveState(string path)
    {
        var tensors = new Dictionary<string, Tensor>();
        var perParam = new JsonObject();
        foreach (var (name, p) in NamedParameters())
        {
            if (_state.TryGetValue(name, out var s))
            {
                tensors[name + ".exp_avg"] = s.M.To(Device.Cpu);
                tensors[name + ".exp_avg_sq"] = s.V.To(Device.Cpu);
                perParam[name] = new JsonObject { ["step"] = s.Step, ["shape"] = new JsonArray(p.Shape.Select(d => (JsonNode)d).ToArray()) };
            }
            else perParam[name] = new JsonObject { ["step"] = 0, ["shape"] = new JsonArray(p.Shape.Select(d => (JsonNode)d).ToArray()) };
        }
        var groups = new JsonArray();
        foreach (var g in Groups)
            groups.Add(new JsonObject
            {
                ["lr"] = g.Lr, ["weight_decay"] = g.WeightDecay, ["lr_scale"] = g.LrScale,
                ["params"] = new JsonArray(g.Parameters.Select(p => (JsonNode)p.Name).ToArray()),
            });
        var json = new JsonObject
        {
            ["type"] = GetType().Name, ["step"] = StepCount,
            ["betas"] = new JsonArray(Beta1, Beta2), ["eps"] = Eps,
            ["groups"] = groups, ["params"] = perParam,
        };
        SafeTensors.Save(path, tensors, new Dictionary<string, string> { [MetadataKey] = json.ToJsonString() });
    }

    public override void LoadState(string path)
    {
        var meta = SafeTensors.LoadMetadata(path);
        if (!meta.TryGetValue(MetadataKey, out var text))
            throw new InvalidDataException($"{path}: not an optimizer state file (no '{MetadataKey}' metadata)");
        JsonObject json;
        try { json = JsonText.Parse(text) as JsonObject ?? throw new JsonException("not an object"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: optimizer state metadata is not valid JSON ({e.Message})"); }
        if (json["params"] is not JsonObject saved)
            throw new InvalidDataException($"{path}: optimizer state has no 'params' entry");

        string savedType = json["type"]?.GetValue<string>() ?? "?";
        if (savedType != GetType().Name && !(savedType is "Adam" or "AdamW"))
            throw new InvalidDataException($"{path}: state of a {savedType} optimizer cannot load into {GetType().Name}");

        var ours = NamedParameters().ToDictionary(np => np.Name, np => np.Parameter);
        var problems = new List<string>();
        foreach (var name in ours.Keys) if (!saved.ContainsKey(name)) problems.Add($"parameter '{name}' has no saved state");
        foreach (var (name, _) in saved) if (!ours.ContainsKey(name)) problems.Add($"saved state for parameter '{name}', which this optimizer does not have");
        if (problems.Count > 0) throw new InvalidDataException($"{path}: optimizer state does not match the parameters: {string.Join("; ", problems)}");

        var withState = saved.Where(kv => kv.Value?["step"]?.GetValue<long>() > 0).Select(kv => kv.Key).ToList();
        var tensors = SafeTensors.Load(path, withState.SelectMany(n => new[] { n + ".exp_avg", n + ".exp_avg_sq" }));
        var loaded = new Dictionary<string, State>();
        foreach (var name in withState)
        {
            var p = ours[name];
            var m = tensors[name + ".exp_avg"];
            var v = tensors[name + ".exp_avg_sq"];
            if (!ShapeUtil.SameShape(m.Shape, p.Shape) || !ShapeUtil.SameShape(v.Shape, p.Shape))
                throw new InvalidDataException($"{path}: saved state for parameter '{name}' has shape {ShapeUtil.Format(m.Shape)} but the parameter is {ShapeUtil.Format(p.Shape)}");
            loaded[name] = new State { Step = saved[name]!["step"]!.GetValue<long>(), M = m.To(p.Device), V = v.To(p.Device) };
        }
        _state.Clear();
        foreach (var (k, s) in loaded) _state[k] = s;
        StepCount = json["step"]?.GetValue<long>() ?? 0;
    }
}

/// <summary>torch.optim.AdamW: decoupled weight decay p ← p·(1 − lr·wd) before the Adam update (default wd 0.01).</summary>
public sealed class AdamW : Adam
{
    protected override bool Decoupled => true;

    public AdamW(IEnumerable<(string Name, Tensor Parameter)> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2)
        : base(parameters, lr, beta1, beta2, eps, weightDecay) { }

    public AdamW(IEnumerable<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2)
        : base(groups, lr, beta1, beta2, eps, weightDecay) { }
}
