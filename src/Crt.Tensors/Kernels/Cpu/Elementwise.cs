using System.Numerics.Tensors;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>Span-in, span-out elementwise kernels (SIMD through TensorPrimitives).</summary>
public static class Elementwise
{
    public static void AddInPlace(Span<float> acc, ReadOnlySpan<float> x) => TensorPrimitives.Add(acc, x, acc);
}
