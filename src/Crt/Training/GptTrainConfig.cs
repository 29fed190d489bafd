using Crt.Generator;

namespace Crt.Training;

/// <summary>A GPT training run: model preset, token stores, optimisation (LlamaGen's c2i recipe) and bookkeeping.</summary>
public sealed record GptTrainConfig
{
    public string Preset { get; init; } = "gpt-t2";
    /// <summary>The model; vocab_size, num_classes and block_size are taken from the token store.</summary>
    public GptConfig Model { get; init; } = GptConfig.Preset("gpt-t2");
    /// <summary>Training token store (written by crt tokenize).</summary>
    public string Tokens { get; init; } = "";
    /// <summary>Held-out token store for validation (same tokenizer).</summary>
    public string? ValTokens { get; init; }

    /// <summary>Recorded from the token store when the run starts: which tokenizer made the tokens (samples must be decoded by it).</summary>
    public string? TokenizerSha256 { get; init; }

    public int BatchSize { get; init; } = 64;
    public long Steps { get; init; } = 2000;
    /// <summary>When set, the run stops after this many training FLOPs instead of <see cref="Steps"/>.</summary>
    public double? ComputeBudget { get; init; }
    public double Lr { get; init; } = 1e-4;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double WeightDecay { get; init; } = 0.05;
    public double GradClip { get; init; } = 1.0;

    public int ValEvery { get; init; } = 500;
    public int ValSequences { get; init; } = 1000;
    public int CheckpointEvery { get; init; } = 500;
    public ulong Seed { get; init; }
    /// <summary>
    /// How matrix products (and the convolutions lowered onto them) are computed on a GPU: "fp32" (default), "tf32"
    /// (TF32 tensor cores, as LlamaGen allows) or "bf16" (bfloat16 inputs, float32 sums; weights, norms, softmax, losses
    /// and optimizer state stay float32: LlamaGen's mixed precision). The CPU computes in float32 whichever is set.
    /// </summary>
    public string Precision { get; init; } = "fp32";

    public void Validate()
    {
        if (string.IsNullOrEmpty(Tokens)) throw new ArgumentException("tokens: the training token store is not set (crt tokenize writes one)");
        if (BatchSize < 1) throw new ArgumentException($"batch_size {BatchSize} must be at least 1");
        if (Steps < 1 && ComputeBudget is null) throw new ArgumentException($"steps {Steps} must be at least 1");
        if (Lr <= 0) throw new ArgumentException($"lr {Lr} must be positive");
        TrainingPrecision.Parse(Precision);
    }

    public static GptTrainConfig ForPreset(string preset) => new() { Preset = preset, Model = GptConfig.Preset(preset) };
}
