namespace Crt.Tensors.Backends;

/// <summary>
/// How a device multiplies float32 matrices (LlamaGen's fp32 / tf32 runs). Fp32: exact float32 products. Tf32: a GPU's
/// TF32 tensor cores, inputs rounded to 10-bit mantissas, sums in float32 (PyTorch's allow_tf32). The CPU always computes
/// in float32 and ignores the setting. bf16 mixed precision (bf16 products and convolutions, fp32 master weights) is not
/// built yet.
/// </summary>
public enum MatmulPrecision { Fp32, Tf32 }
