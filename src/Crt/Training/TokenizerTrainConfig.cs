using System.Text.Json.Serialization;
using Crt.Data;
using Crt.Regularizer;
using Crt.Tokenizer;

namespace Crt.Training;

/// <summary>Everything a tokenizer training run is made of; resolved from a preset, a config file and --set overrides.</summary>
public sealed record TokenizerTrainConfig
{
    public string Preset { get; init; } = "vq-tiny";
    public VqConfig Model { get; init; } = VqConfig.Preset("vq-tiny");
    public CrtConfig Crt { get; init; } = new();

    /// <summary>"fashion-mnist" (built in), a folder of IDX image/label files, or an image folder (ROOT/CLASS/*.png|jpg|jpeg|webp|bmp|gif).</summary>
    public string Data { get; init; } = "fashion-mnist";
    /// <summary>Zero padding (black) around each image: Fashion-MNIST's 28×28 become 32×32.</summary>
    public int Pad { get; init; } = 2;
    /// <summary>Image folders only: the side of the square each image is made into, before padding; null = model.image_size − 2·pad.</summary>
    public int? ImageSize { get; init; }
    /// <summary>Image folders only: 1 (gray, ITU-R 601-2 luma) or 3 (RGB); null = model.in_channels.</summary>
    public int? Channels { get; init; }
    /// <summary>Image folders only: "center-crop" (ADM's center_crop_arr), "area" or "bicubic" (the whole image squeezed to the square).</summary>
    public string Resize { get; init; } = "center-crop";

    public int BatchSize { get; init; } = 32;
    public long Steps { get; init; } = 2000;
    /// <summary>When set, the run stops after this many training FLOPs instead of <see cref="Steps"/> (compute matching).</summary>
    public double? ComputeBudget { get; init; }
    /// <summary>When set, the compute budget is this many steps of the same config without the regulariser (CRT vs baseline at equal compute).</summary>
    public long? MatchBaselineSteps { get; init; }

    public double Lr { get; init; } = 1e-4;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double GradClip { get; init; } = 1.0;
    /// <summary>EMA decay of the tokenizer weights (0 turns EMA off; LlamaGen uses 0.9999).</summary>
    public double EmaDecay { get; init; }

    /// <summary>Step from which the PatchGAN loss is on (LlamaGen: 20000).</summary>
    public long DiscStart { get; init; } = 20000;
    public float DiscWeight { get; init; } = 0.5f;
    public int DiscLayers { get; init; } = 2;
    public int DiscChannels { get; init; } = 64;

    /// <summary>LPIPS-VGG16 weights (safetensors; see tools/convert_lpips.py). Without them the perceptual loss is off.</summary>
    public string? LpipsWeights { get; init; }
    public float PerceptualWeight { get; init; } = 1f;

    public bool Augment { get; init; } = true;
    public float CropScaleMin { get; init; } = 0.8f;
    public float FlipProbability { get; init; } = 0.5f;
    /// <summary>
    /// Horizontal flips (the training augmentation, and the mirrored copies `crt tokenize` and the demo add by default):
    /// "auto" = on where a mirrored image keeps its class (<see cref="BuiltInDatasets.MirrorSafe"/>: Fashion-MNIST and
    /// image folders), off for other IDX data (the MNIST family: digits and letters); "on"; "off".
    /// </summary>
    public string Flip { get; init; } = "auto";

    /// <summary>Whether this run's images are flipped (<see cref="Flip"/> resolved against <see cref="Data"/>).</summary>
    [JsonIgnore] public bool Flips => FlipSetting.Resolve(Flip, Data);

    public int ValEvery { get; init; } = 500;
    public int ValImages { get; init; } = 1000;
    public int CheckpointEvery { get; init; } = 500;
    public int ImageEvery { get; init; } = 500;
    public ulong Seed { get; init; }
    /// <summary>
    /// How matrix products (and the convolutions lowered onto them) are computed on a GPU: "fp32" (default), "tf32"
    /// (TF32 tensor cores, as LlamaGen allows) or "bf16" (bfloat16 inputs, float32 sums; weights, norms, softmax, losses
    /// and optimizer state stay float32: LlamaGen's mixed precision). The CPU computes in float32 whichever is set.
    /// </summary>
    public string Precision { get; init; } = "fp32";

    public void Validate()
    {
        TrainingPrecision.Parse(Precision);
        Model.Validate();
        Crt.Validate();
        if (BatchSize < 1) throw new ArgumentException($"batch_size {BatchSize} must be at least 1");
        if (Steps < 1 && ComputeBudget is null && MatchBaselineSteps is null) throw new ArgumentException($"steps {Steps} must be at least 1");
        if (Lr <= 0) throw new ArgumentException($"lr {Lr} must be positive");
        FlipSetting.Resolve(Flip, Data);
        if (CropScaleMin <= 0 || CropScaleMin > 1) throw new ArgumentException($"crop_scale_min {CropScaleMin} must be in (0, 1]");
        if (EmaDecay < 0 || EmaDecay >= 1) throw new ArgumentException($"ema_decay {EmaDecay} must be in [0, 1)");
        // Only what was set explicitly: IDX data ignores these keys, and derived values are checked when an image folder is read.
        if (ImageSize is < 1) throw new ArgumentException($"image_size {ImageSize} must be at least 1");
        if (Channels is { } c && c != 1 && c != 3) throw new ArgumentException($"channels {c} must be 1 (gray) or 3 (RGB)");
        ImagePreprocess.ParseMode(Resize);
    }

    /// <summary>How an image folder's files become this tokenizer's input (unset keys follow the model's input size and channels).</summary>
    /// <summary>A split of <see cref="Data"/> read as this tokenizer reads it (its image size, channels and resize mode): what every consumer of a tokenizer's data goes through.</summary>
    public ImageSet LoadSplit(Split split, Action<string>? log = null) => BuiltInDatasets.Load(Data, split, Images(), log);

    public ImageOptions Images() =>
        new(ImageSize ?? Model.ImageSize - 2 * Pad, Channels ?? Model.InChannels, ImagePreprocess.ParseMode(Resize));

    /// <summary>The defaults for a tokenizer preset (its model shape; CRT on).</summary>
    public static TokenizerTrainConfig ForPreset(string preset) => new() { Preset = preset, Model = VqConfig.Preset(preset) };
}
