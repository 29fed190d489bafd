using Crt.Generator;
using Crt.Tensors;

namespace Crt.Training;

/// <summary>A trained GPT loaded from a run directory (latest checkpoint) or one of its checkpoint folders.</summary>
public sealed record GptCheckpoint(Gpt Model, GptTrainConfig Config, string TokenizerSha256, long Step)
{
    public static GptCheckpoint Load(string path)
    {
        if (!Directory.Exists(path)) throw new FileNotFoundException($"{path}: GPT checkpoint not found (give a gpt run directory or one of its checkpoints/step-* folders)");
        string dir = Path.GetFullPath(path), runRoot;
        if (File.Exists(Path.Combine(dir, "config.json")))
        {
            runRoot = dir;
            dir = RunDirectory.OpenToRead(runRoot).LatestCheckpoint() ?? throw new FileNotFoundException($"{path}: the run has no checkpoint yet");
        }
        else runRoot = Path.GetDirectoryName(Path.GetDirectoryName(dir)!)!;
        var config = ConfigResolver.Resolve(new GptTrainConfig(), Path.Combine(runRoot, "config.json"), Array.Empty<string>());
        var weights = Path.Combine(dir, "model.safetensors");
        var model = new Gpt(config.Model, new Rng(config.Seed));
        try { model.Load(weights); }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or IOException)
        {
            throw new InvalidDataException($"{weights}: cannot load the GPT ({e.Message})", e);
        }
        model.Eval();
        long step = long.TryParse(Path.GetFileName(dir).Replace("step-", ""), out var s) ? s : -1;
        return new GptCheckpoint(model, config, config.TokenizerSha256 ?? "", step);
    }
}
