namespace Crt.Tensors.Backends;

/// <summary>
/// How a device multiplies float32 matrices (matrix products and the convolutions lowered onto them; everything else —
/// weights, norms, softmax, losses, optimizer state — stays float32, as in LlamaGen's mixed precision). Fp32: float32
/// products. Tf32: inputs rounded to TF32's 10-bit mantissa (a GPU's tensor cores; PyTorch's allow_tf32). Bf16: inputs
/// rounded to bfloat16 (7-bit mantissa), products summed in float32. The CPU computes in float32 and ignores the setting.
/// </summary>
public enum MatmulPrecision { Fp32, Tf32, Bf16 }
