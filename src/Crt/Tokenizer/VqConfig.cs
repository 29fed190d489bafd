using System.Text.Json.Serialization;

namespace Crt.Tokenizer;

/// <summary>
/// Shape of LlamaGen's VQGAN (tokenizer ModelArgs plus the Encoder/Decoder arguments). Encoder and
/// decoder share <see cref="ChannelMultipliers"/>; the token grid is image / 2^(levels − 1).
/// </summary>
public sealed record VqConfig
{
    public int InChannels { get; init; } = 3;
    public int ImageSize { get; init; } = 256;
    public int Channels { get; init; } = 128;
    public int[] ChannelMultipliers { get; init; } = { 1, 1, 2, 2, 4 };
    public int NumResBlocks { get; init; } = 2;
    public int ZChannels { get; init; } = 256;
    public int CodeDim { get; init; } = 8;
    public int CodebookSize { get; init; } = 16384;
    public float CommitBeta { get; init; } = 0.25f;
    public float EntropyLossRatio { get; init; }
    /// <summary>
    /// Dead-code re-initialisation (not in LlamaGen; an ablation against codebook collapse): every this many training
    /// steps, each code not chosen during the last this many steps is set to an encoder latent drawn from the current
    /// batch. 0: never.
    /// </summary>
    public int DeadCodeRestart { get; init; }
    public float Dropout { get; init; }

    [JsonIgnore] public int Levels => ChannelMultipliers.Length;
    [JsonIgnore] public int DownsampleFactor => 1 << (Levels - 1);
    [JsonIgnore] public int GridSize => ImageSize / DownsampleFactor;
    [JsonIgnore] public int TokensPerImage => GridSize * GridSize;

    public void Validate()
    {
        if (Levels < 1) throw new ArgumentException("vq: channel multipliers must list at least one level");
        foreach (var m in ChannelMultipliers)
            if (m < 1 || Channels * m % 32 != 0)
                throw new ArgumentException($"vq: width {Channels}×{m} must be a positive multiple of 32 (GroupNorm uses 32 groups)");
        if (ZChannels % 32 != 0) throw new ArgumentException($"vq: z_channels {ZChannels} must be a multiple of 32");
        if (ImageSize % DownsampleFactor != 0) throw new ArgumentException($"vq: image size {ImageSize} is not divisible by the downsampling factor {DownsampleFactor}");
        if (CodebookSize < 2 || CodeDim < 1) throw new ArgumentException($"vq: codebook {CodebookSize}×{CodeDim} is too small");
        if (DeadCodeRestart < 0) throw new ArgumentException($"vq: dead_code_restart {DeadCodeRestart} must be ≥ 0 (0: off)");
        if (NumResBlocks < 1) throw new ArgumentException($"vq: num_res_blocks {NumResBlocks} must be at least 1");
    }

    /// <summary>The presets of the spec (§2); names are part of the interface.</summary>
    public static readonly IReadOnlyDictionary<string, VqConfig> Presets = new Dictionary<string, VqConfig>
    {
        ["vq-tiny"] = new() { InChannels = 1, ImageSize = 32, Channels = 32, ChannelMultipliers = new[] { 1, 2, 2 }, NumResBlocks = 1, ZChannels = 64, CodeDim = 8, CodebookSize = 512 },
        ["vq-f8"] = new() { ChannelMultipliers = new[] { 1, 2, 2, 4 } },
        ["vq-f16"] = new() { ChannelMultipliers = new[] { 1, 1, 2, 2, 4 } },
    };

    public static VqConfig Preset(string name) => Presets.TryGetValue(name, out var c)
        ? c
        : throw new ArgumentException($"unknown tokenizer preset '{name}'; valid presets: {string.Join(", ", Presets.Keys)}");
}
