using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Crt.Data;
using Crt.Tensors;
using Crt.Tensors.IO;
using Crt.Tensors.Nn;
using Crt.Tensors.Optim;

namespace Crt.Training;

/// <summary>
/// What a training checkpoint folder holds: one safetensors file per module and per optimizer state,
/// extra tensor files (EMA), and state.json with the step, the FLOPs spent, the training wall seconds spent and every
/// RNG's state — enough to continue a run exactly where it stopped, and to say what it cost across its processes.
/// </summary>
public sealed class CheckpointFiles
{
    private readonly List<(string File, Module Module)> _modules = new();
    private readonly List<(string File, Optimizer Optimizer)> _optimizers = new();
    private readonly List<(string Name, Rng Rng)> _rngs = new();
    private readonly List<(string File, Func<Dictionary<string, Tensor>> Save, Action<Dictionary<string, Tensor>> Load)> _extra = new();

    public CheckpointFiles Module(string file, Module m) { _modules.Add((file, m)); return this; }
    public CheckpointFiles Optimizer(string file, Optimizer o) { _optimizers.Add((file, o)); return this; }
    public CheckpointFiles Rng(string name, Rng r) { _rngs.Add((name, r)); return this; }
    public CheckpointFiles Tensors(string file, Func<Dictionary<string, Tensor>> save, Action<Dictionary<string, Tensor>> load) { _extra.Add((file, save, load)); return this; }

    /// <summary>Writes the checkpoint; <paramref name="seconds"/> is left out of state.json when unknown (a run resumed from a checkpoint made before it was recorded).</summary>
    public void Save(string dir, long step, double flops, double? seconds)
    {
        foreach (var (file, m) in _modules) m.Save(Path.Combine(dir, file));
        foreach (var (file, o) in _optimizers) o.SaveState(Path.Combine(dir, file));
        foreach (var (file, save, _) in _extra) SafeTensors.Save(Path.Combine(dir, file), save());
        var state = new JsonObject { ["step"] = step, ["flops"] = flops };
        if (seconds is { } sec) state["seconds"] = sec;
        foreach (var (name, rng) in _rngs)
            state[name + "_rng"] = new JsonArray(rng.GetState().Select(v => (JsonNode)v.ToString(CultureInfo.InvariantCulture)).ToArray());
        AtomicFile.WriteAllText(Path.Combine(dir, "state.json"), state.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>
    /// Restores everything registered; returns the step, FLOPs and training seconds recorded. Any problem is one message naming the folder.
    /// <paramref name="weightsOnly"/> reads a checkpoint stripped to its weights (optimizer states and extra tensors
    /// left out, e.g. to move a finished run between machines): the first module's file is required, the others are
    /// loaded where present. Such a run can be measured and used, not continued.
    /// </summary>
    public CheckpointState Load(string dir, bool weightsOnly = false)
    {
        try
        {
            for (int i = 0; i < _modules.Count; i++)
            {
                var (file, m) = _modules[i];
                if (!weightsOnly || i == 0 || File.Exists(Path.Combine(dir, file))) m.Load(Path.Combine(dir, file));
            }
            if (!weightsOnly)
            {
                foreach (var (file, o) in _optimizers) o.LoadState(Path.Combine(dir, file));
                foreach (var (file, _, load) in _extra) load(SafeTensors.Load(Path.Combine(dir, file)));
            }
            return ReadState(Path.Combine(dir, "state.json"));
        }
        catch (Exception e) when (e is IOException or InvalidDataException or JsonException or ArgumentException)
        {
            throw new InvalidDataException($"{dir}: the checkpoint cannot be resumed ({e.Message})", e);
        }
    }

    /// <summary>Reads state.json: restores every registered RNG, returns the step, FLOPs and seconds. Each field is checked.</summary>
    private CheckpointState ReadState(string path)
    {
        if (JsonText.Parse(File.ReadAllText(path)) is not JsonObject state)
            throw new InvalidDataException("state.json does not hold a JSON object");
        foreach (var (name, rng) in _rngs)
        {
            if (state[name + "_rng"] is not JsonArray words)
                throw new InvalidDataException($"state.json has no {name}_rng array");
            var value = new ulong[words.Count];
            for (int i = 0; i < value.Length; i++)
                if (words[i] is not JsonValue w || !w.TryGetValue<string>(out var text)
                    || !ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value[i]))
                    throw new InvalidDataException($"state.json: {name}_rng[{i}] is not a 64-bit unsigned integer in a string");
            rng.SetState(value);
        }
        if (state["step"] is not JsonValue s || !s.TryGetValue<long>(out long step) || step < 0)
            throw new InvalidDataException("state.json: step is not an integer ≥ 0");
        if (state["flops"] is not JsonValue f || !f.TryGetValue<double>(out double flops) || !double.IsFinite(flops) || flops < 0)
            throw new InvalidDataException("state.json: flops is not a finite number ≥ 0");
        double? seconds = null;
        if (state["seconds"] is { } secNode)
        {
            if (secNode is not JsonValue sv || !sv.TryGetValue<double>(out double sec) || !double.IsFinite(sec) || sec < 0)
                throw new InvalidDataException("state.json: seconds is not a finite number ≥ 0");
            seconds = sec;
        }
        return new CheckpointState(step, flops, seconds);
    }
}

/// <summary>
/// What a checkpoint says of the run up to it: the step, the training FLOPs, and the training wall seconds summed over
/// every process that trained it (null in checkpoints made before seconds were recorded, and in runs resumed from one).
/// </summary>
public readonly record struct CheckpointState(long Step, double Flops, double? Seconds);
