using Crt.Tensors;
using Crt.Tensors.Backends;

namespace Crt.Training;

/// <summary>The <c>precision</c> key of the training configs.</summary>
public static class TrainingPrecision
{
    public static MatmulPrecision Parse(string value) => value switch
    {
        "fp32" => MatmulPrecision.Fp32,
        "tf32" => MatmulPrecision.Tf32,
        "bf16" => MatmulPrecision.Bf16,
        _ => throw new ArgumentException($"precision '{value}': expected fp32, tf32 or bf16"),
    };

    /// <summary>Sets <paramref name="device"/>'s matrix precision from a config; says so when the CPU ignores it.</summary>
    public static void Apply(string value, Device device, Action<string> log)
    {
        var precision = Parse(value);
        if (device.IsCpu && precision != MatmulPrecision.Fp32) log($"precision {value} applies to GPUs only: the CPU computes in float32");
        device.Precision = precision;
    }
}
