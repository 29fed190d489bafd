using System.Text.Json.Serialization;

namespace Crt.Scaling;

/// <summary>
/// A tokenizer of the sweep as measured once: size of its code (K, tokens), training compute, and its
/// reconstruction of the test images (PSNR, SSIM, rFID under the named feature net, codebook use).
/// <see cref="TrainingFlops"/> is the compute comparable between tokenizers: for a baseline that
/// carries the regulariser as a λ = 0 probe, the tokenizer alone (the probe is measurement, not training).
/// </summary>
public sealed record TokenizerRecord
{
    public string Kind { get; init; } = "tokenizer";
    public required string Name { get; init; }
    public required string Sha256 { get; init; }
    public required string RunDir { get; init; }
    public bool Reused { get; init; }
    public required string Preset { get; init; }
    public int CodebookSize { get; init; }
    public int TokensPerImage { get; init; }
    public bool CrtEnabled { get; init; }
    public double LambdaMax { get; init; }
    public long Steps { get; init; }
    public double TrainingFlops { get; init; }
    public double TrainingFlopsWithProbe { get; init; }
    public double RegularizerFlopFraction { get; init; }
    public int TestImages { get; init; }
    public double Mse { get; init; }
    public double Psnr { get; init; }
    public double Ssim { get; init; }
    public double Rfid { get; init; }
    public double CodebookUsage { get; init; }
    public int UsedCodes { get; init; }
    public double CodeEntropyBits { get; init; }
    public double? CrtLoss { get; init; }
    public required string FeatureNet { get; init; }
    /// <summary>SHA-256 of the feature network's weights file rFID was measured under (null in records made before it was recorded).</summary>
    public string? FeatureNetSha256 { get; init; }
    /// <summary>Wall seconds this sweep spent on the tokenizer: training (summed over the processes that trained it, where its checkpoint recorded them), tokenizing, measuring.</summary>
    public double Seconds { get; init; }
    /// <summary>The machine that made this record (<see cref="Crt.Tensors.Kernels.Cpu.MachineInfo.Describe"/>), which <see cref="Seconds"/> were measured on; null in records made before it was recorded.</summary>
    public string? Machine { get; init; }
    public string Time { get; init; } = "";

    /// <summary>The information the code can carry per image: tokens × log2 K bits.</summary>
    public double CapacityBits => TokensPerImage * Math.Log2(CodebookSize);
}

/// <summary>
/// One point of the study: a GPT preset trained on one tokenizer's tokens, measured after <see cref="Steps"/>
/// steps — compute, validation cross-entropy (per token, per position, position 0 apart, bits per image)
/// and generation (FID, IS, precision/recall under the named feature net, with the counts).
/// </summary>
public sealed record PointRecord
{
    public string Kind { get; init; } = "point";
    public required string Tokenizer { get; init; }
    public required string TokenizerSha256 { get; init; }
    public int CodebookSize { get; init; }
    public int TokensPerImage { get; init; }
    public double TokenizerFlops { get; init; }
    public required string Gpt { get; init; }
    public long GptParameters { get; init; }
    public long Steps { get; init; }
    public int BatchSize { get; init; }
    /// <summary>Cumulative training FLOPs of the GPT run up to <see cref="Steps"/>, as the engine counted them.</summary>
    public double GptFlops { get; init; }
    public int ValSequences { get; init; }
    public double CePerToken { get; init; }
    public double CePosition0 { get; init; }
    public double CeRest { get; init; }
    public double[] CePerPosition { get; init; } = Array.Empty<double>();
    public double BitsPerImage { get; init; }
    public string? FeatureNet { get; init; }
    /// <summary>SHA-256 of the feature network's weights file FID was measured under (null without samples, or in records made before it was recorded).</summary>
    public string? FeatureNetSha256 { get; init; }
    public int Samples { get; init; }
    public int RealImages { get; init; }
    public double Cfg { get; init; }
    public double? Fid { get; init; }
    /// <summary>FID of the first n samples, for the plan's eval.fid_of_first (empty when it asks for none).</summary>
    public Dictionary<int, double> FidOfFirst { get; init; } = [];
    public double? IsMean { get; init; }
    public double? IsStd { get; init; }
    public double? Precision { get; init; }
    public double? Recall { get; init; }
    /// <summary>Wall seconds of this point: training from the previous point of the run (<see cref="TrainSeconds"/>), then measuring.</summary>
    public double Seconds { get; init; }
    /// <summary>
    /// Training seconds from the run's previous point (or its start) to this one, summed over every process that trained
    /// that stretch (<see cref="RunTrainSeconds"/> less the previous point's); this process's part alone where either is unknown.
    /// </summary>
    public double TrainSeconds { get; init; }
    /// <summary>Training seconds of the GPT run from its start to <see cref="Steps"/>, across its processes; null when unknown (older records and checkpoints).</summary>
    public double? RunTrainSeconds { get; init; }
    /// <summary>The machine that made this record (<see cref="Crt.Tensors.Kernels.Cpu.MachineInfo.Describe"/>), which <see cref="Seconds"/> were measured on; null in records made before it was recorded.</summary>
    public string? Machine { get; init; }
    public string Time { get; init; } = "";

    [JsonIgnore] public string Key => SweepKeys.Point(Tokenizer, Gpt, Steps);
}

internal static class SweepKeys
{
    public static string Point(string tokenizer, string gpt, long steps) => $"{tokenizer}|{gpt}|{steps}";
}
