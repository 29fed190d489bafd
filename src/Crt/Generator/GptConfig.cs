using System.Text.Json.Serialization;

namespace Crt.Generator;

/// <summary>
/// Shape and regularisation of LlamaGen's class-conditional GPT (ModelArgs in LlamaGen's gpt.py).
/// <see cref="BlockSize"/> is the number of image tokens N; it must be a square (the 2D RoPE grid).
/// </summary>
public sealed record GptConfig
{
    public int Layers { get; init; }
    public int Heads { get; init; }
    public int Dim { get; init; }
    public int MultipleOf { get; init; } = 256;
    public int VocabSize { get; init; } = 16384;
    public int NumClasses { get; init; } = 1000;
    public int BlockSize { get; init; } = 256;
    public float NormEps { get; init; } = 1e-5f;
    public float RopeBase { get; init; } = 10000f;
    public float InitializerRange { get; init; } = 0.02f;
    public float TokenDropout { get; init; } = 0.1f;
    public float ResidDropout { get; init; } = 0.1f;
    public float FfnDropout { get; init; } = 0.1f;
    public float ClassDropout { get; init; } = 0.1f;

    [JsonIgnore] public int HeadDim => Dim / Heads;

    /// <summary>SwiGLU width: find_multiple(int(2·4·dim/3), multiple_of), as LlamaGen's FeedForward.</summary>
    [JsonIgnore] public int FfnHidden => RoundUp(2 * 4 * Dim / 3, MultipleOf);

    [JsonIgnore] public int GridSize => (int)Math.Round(Math.Sqrt(BlockSize));

    public static int RoundUp(int n, int k) => n % k == 0 ? n : n + k - n % k;

    /// <summary>Parameters of the model this config builds (LlamaGen's count), without building it.</summary>
    public long ParameterCount()
    {
        long d = Dim;
        long perLayer = d * 3 * d + d * d + 3 * d * FfnHidden + 2 * d;
        return Layers * perLayer + (NumClasses + 1L) * d + 2L * VocabSize * d + d;
    }

    public void Validate()
    {
        if (Layers < 1 || Heads < 1 || Dim < 1) throw new ArgumentException($"gpt: layers {Layers}, heads {Heads} and dim {Dim} must all be positive");
        if (Dim % Heads != 0) throw new ArgumentException($"gpt: dim {Dim} is not divisible by heads {Heads}");
        if (HeadDim % 4 != 0) throw new ArgumentException($"gpt: head dim {HeadDim} must be a multiple of 4 for 2D RoPE (row and column halves of rotation pairs)");
        if (GridSize * GridSize != BlockSize) throw new ArgumentException($"gpt: block size {BlockSize} (tokens per image) is not a square grid");
        if (VocabSize < 2 || NumClasses < 1) throw new ArgumentException($"gpt: vocabulary {VocabSize} and classes {NumClasses} must be positive");
    }

    /// <summary>The presets of the spec (§4): names are part of the interface.</summary>
    public static readonly IReadOnlyDictionary<string, GptConfig> Presets = new Dictionary<string, GptConfig>
    {
        ["gpt-t1"] = new() { Layers = 2, Heads = 2, Dim = 64, MultipleOf = 32 },
        ["gpt-t2"] = new() { Layers = 4, Heads = 4, Dim = 128, MultipleOf = 32 },
        ["gpt-t3"] = new() { Layers = 6, Heads = 6, Dim = 192, MultipleOf = 32 },
        ["gpt-t4"] = new() { Layers = 8, Heads = 8, Dim = 256, MultipleOf = 32 },
        ["gpt-t5"] = new() { Layers = 10, Heads = 12, Dim = 384, MultipleOf = 32 },
        ["gpt-b"] = new() { Layers = 12, Heads = 12, Dim = 768 },
        ["gpt-l"] = new() { Layers = 24, Heads = 16, Dim = 1024 },
        ["gpt-xl"] = new() { Layers = 36, Heads = 20, Dim = 1280 },
        ["gpt-xxl"] = new() { Layers = 48, Heads = 24, Dim = 1536 },
        ["gpt-3b"] = new() { Layers = 24, Heads = 32, Dim = 3200 },
    };

    public static GptConfig Preset(string name) => Presets.TryGetValue(name, out var c)
        ? c
        : throw new ArgumentException($"unknown GPT preset '{name}'; valid presets: {string.Join(", ", Presets.Keys)}");
}
