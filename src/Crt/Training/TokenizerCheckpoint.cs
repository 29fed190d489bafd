using System.Security.Cryptography;
using Crt.Tensors;
using Crt.Tensors.IO;
using Crt.Tokenizer;

namespace Crt.Training;

/// <summary>A trained tokenizer loaded from a run directory (its latest checkpoint) or a checkpoint folder.</summary>
public sealed record TokenizerCheckpoint(VqModel Model, TokenizerTrainConfig Config, string WeightsPath, string Sha256, long Step)
{
    /// <summary>
    /// Loads <paramref name="path"/>: a run directory (uses checkpoints/latest) or one of its checkpoint
    /// folders. With EMA on in the run, the EMA weights are the ones loaded.
    /// </summary>
    public static TokenizerCheckpoint Load(string path)
    {
        if (!Directory.Exists(path)) throw new FileNotFoundException($"{path}: tokenizer checkpoint not found (give a run directory or one of its checkpoints/step-* folders)");
        string dir = Path.GetFullPath(path), runRoot;
        if (File.Exists(Path.Combine(dir, "config.json")))
        {
            runRoot = dir;
            dir = RunDirectory.OpenToRead(runRoot).LatestCheckpoint()
                ?? throw new FileNotFoundException($"{path}: the run has no checkpoint yet");
        }
        else runRoot = Path.GetDirectoryName(Path.GetDirectoryName(dir)!)!;
        var configPath = Path.Combine(runRoot, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{path}: no config.json in the run directory {runRoot}");
        var config = ConfigResolver.Resolve(new TokenizerTrainConfig(), configPath, Array.Empty<string>());
        var weights = Path.Combine(dir, "model.safetensors");
        if (!File.Exists(weights)) throw new FileNotFoundException($"{dir}: no model.safetensors in the checkpoint");
        var model = new VqModel(config.Model, new Rng(0));
        try
        {
            model.Load(weights);
            var ema = Path.Combine(dir, "ema.safetensors");
            if (config.EmaDecay > 0 && File.Exists(ema)) model.LoadStateDict(SafeTensors.Load(ema), strict: false);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or IOException)
        {
            throw new InvalidDataException($"{weights}: cannot load the tokenizer ({e.Message})", e);
        }
        model.Eval();
        string sha;
        using (var f = File.OpenRead(weights)) sha = Convert.ToHexString(SHA256.HashData(f)).ToLowerInvariant();
        long step = long.TryParse(Path.GetFileName(dir).Replace("step-", ""), out var s) ? s : -1;
        return new TokenizerCheckpoint(model, config, weights, sha, step);
    }
}
