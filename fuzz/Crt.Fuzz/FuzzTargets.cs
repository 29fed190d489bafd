using Crt.Data;
using Crt.Scaling;
using Crt.Tensors;
using Crt.Tensors.IO;
using Crt.Tensors.IO.Torch;
using Crt.Training;

namespace Crt.Fuzz;

/// <summary>
/// One parser of outside data, driven the way a command drives it: the input is written to
/// <see cref="FileName"/> in a scratch folder and read through the same entry point the CLI uses.
/// </summary>
public sealed record FuzzTarget(string Name, string FileName, Action<string> Parse);

/// <summary>An input that made a parser fail in a way a user would not be told clearly.</summary>
public sealed class FuzzFinding(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// Every parser of outside data, as fuzz targets. The oracle: a parser either accepts the input or throws
/// one of crt's clear errors (<see cref="ReportedError.IsClear"/>) whose message names the file. Anything
/// else — another exception type, a message without the file's name, a crash, a hang — is a finding.
/// Shared by the AFL harness (Program.cs) and the test that replays the corpora in CI.
/// </summary>
public static class FuzzTargets
{
    public static readonly IReadOnlyList<FuzzTarget> All =
    [
        new("safetensors", "model.safetensors", ParseSafeTensors),
        new("state", "state.json", path => ParseCheckpointState(Path.GetDirectoryName(path)!)),
        new("tokens", "train.tokens", path => TokenStore.Read(path)),
        new("idx", "train-images-idx3-ubyte", path => IdxFile.Read(path)),
        new("config", "config.json", ParseConfig),
        new("plan", "plan.json", path => SweepPlan.Load(path)),
        new("torch", "model.pt", ParseTorch),
        new("npz", "samples.npz", path => NpzImages.Read(path, channels: 3)),
        new("image", "image.png", path => ImageFile.Read(path)),
    ];

    public static FuzzTarget Get(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"unknown fuzz target '{name}' (one of {string.Join(", ", All.Select(t => t.Name))})");

    /// <summary>
    /// Parses one input written to <paramref name="workDir"/>. Returns when the parser accepted it or refused it
    /// clearly; throws <see cref="FuzzFinding"/> for a clear-typed error that does not name the file, and lets
    /// every other exception through as it is.
    /// </summary>
    public static void Run(FuzzTarget target, ReadOnlySpan<byte> input, string workDir)
    {
        Directory.CreateDirectory(workDir);
        string path = Path.Combine(workDir, target.FileName);
        using (var f = File.Create(path)) f.Write(input);
        try
        {
            target.Parse(path);
        }
        catch (Exception e) when (ReportedError.IsClear(e))
        {
            // The checkpoint's state.json is reported by its folder, as resuming reports it.
            string named = target.Name == "state" ? workDir : path;
            if (!e.Message.Contains(named, StringComparison.Ordinal))
                throw new FuzzFinding($"{target.Name}: a {e.GetType().Name} that does not name {named}: {e.Message}", e);
        }
    }

    private static void ParseSafeTensors(string path)
    {
        var header = SafeTensors.ReadHeader(path);
        foreach (var info in header.Tensors)
        {
            // What the loaders do with each dtype: float tensors as float32, integer ones as they are.
            switch (info.Dtype)
            {
                case SafeTensorsDtype.I64: SafeTensors.LoadInt64(path, info.Name); break;
                case SafeTensorsDtype.I32: SafeTensors.LoadInt32(path, info.Name); break;
                default: SafeTensors.Load(path, [info.Name]); break;
            }
        }
    }

    /// <summary>Resumes a checkpoint that holds only state.json, with two RNGs registered (as the trainers do).</summary>
    private static void ParseCheckpointState(string dir) =>
        new CheckpointFiles().Rng("data", new Rng(1)).Rng("dropout", new Rng(2)).Load(dir);

    /// <summary>
    /// As `crt tokenizer train --config` and `crt gpt train --config` read a config file. Reading it must name the
    /// file; the validation that follows names the offending key instead (the value may come from --set), so
    /// its ArgumentException is a clear refusal here too — any other exception from it is still a finding.
    /// </summary>
    private static void ParseConfig(string path)
    {
        string? preset = ConfigResolver.PresetOf(path);
        Action validate = preset is null || !preset.StartsWith("gpt", StringComparison.Ordinal)
            ? ConfigResolver.Resolve(ConfigResolver.Defaults(null, path, "vq-tiny", TokenizerTrainConfig.ForPreset), path, []).Validate
            : ConfigResolver.Resolve(ConfigResolver.Defaults(null, path, "gpt-t2", GptTrainConfig.ForPreset), path, []).Validate;
        try { validate(); }
        catch (ArgumentException) { }
    }

    /// <summary>Opens a torch.save file and reads every float tensor in it, as `crt import llamagen` does.</summary>
    private static void ParseTorch(string path)
    {
        using var ckpt = TorchCheckpoint.Open(path);
        foreach (var (name, t) in TensorsIn(ckpt.Root, "root"))
            if (t.Dtype is TorchDtype.Float32 or TorchDtype.Float16 or TorchDtype.BFloat16 && t.Numel <= 1 << 20)
                ckpt.ReadTensor(t, name);
    }

    private static IEnumerable<(string Name, TorchTensor Tensor)> TensorsIn(object? value, string name, int depth = 0)
    {
        if (depth > 64) yield break;
        switch (value)
        {
            case TorchTensor t:
                yield return (name, t);
                break;
            case PickleDict d:
                foreach (var (k, v) in d.Items)
                    foreach (var x in TensorsIn(v, $"{name}.{k}", depth + 1)) yield return x;
                break;
            case PickleObject o:
                foreach (var x in TensorsIn(o.Args, name, depth + 1)) yield return x;
                foreach (var x in TensorsIn(o.Attributes, name, depth + 1)) yield return x;
                break;
            case PickleSet s:
                foreach (var x in TensorsIn(s.Items, name, depth + 1)) yield return x;
                break;
            case System.Collections.IEnumerable list and not (string or byte[]):
                int i = 0;
                foreach (var v in list)
                    foreach (var x in TensorsIn(v, $"{name}[{i++}]", depth + 1)) yield return x;
                break;
        }
    }
}
