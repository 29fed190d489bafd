namespace Crt.Tensors;

// CONTRACT STUB — signatures are fixed; bodies are being implemented.
public static partial class Ops
{
    /// <summary>GroupNorm over [N, C, ...]; with <paramref name="swish"/> the output is fused with x·σ(x).</summary>
    public static Tensor GroupNorm(Tensor x, int groups, Tensor? weight, Tensor? bias, float eps = 1e-5f, bool swish = false) => throw new NotImplementedException("GroupNorm");

    /// <summary>BatchNorm over [N, C, H, W]. Training uses batch statistics and updates the running ones (unbiased variance, as PyTorch).</summary>
    public static Tensor BatchNorm2d(Tensor x, Tensor? weight, Tensor? bias, Tensor runningMean, Tensor runningVar, bool training, float momentum = 0.1f, float eps = 1e-5f) => throw new NotImplementedException("BatchNorm2d");

    /// <summary>LayerNorm over the last dim.</summary>
    public static Tensor LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps = 1e-5f) => throw new NotImplementedException("LayerNorm");

    /// <summary>RMSNorm over the last dim: x / sqrt(mean(x²) + eps) · weight.</summary>
    public static Tensor RmsNorm(Tensor x, Tensor? weight, float eps = 1e-5f) => throw new NotImplementedException("RmsNorm");
}
