using Crt.Tensors.Kernels.Cpu;
using Xunit;

namespace Crt.Tensors.Tests;

/// <summary>
/// Every SIMD path on every machine: a test class in the <see cref="GlobalKernelSettings"/> collection takes
/// <see cref="All"/> as theory data and wraps its body in <c>using var _ = SimdWidths.Use(bits);</c>. A width the
/// CPU lacks is emulated by the runtime (correct, slow), so keep such tests' shapes small.
/// </summary>
public static class SimdWidths
{
    /// <summary>512, 256 and 128 bits, and 0 (the scalar reference).</summary>
    public static TheoryData<int> All => new() { 512, 256, 128, 0 };

    /// <summary>Switches the process to <paramref name="bits"/> until disposed.</summary>
    public static IDisposable Use(int bits)
    {
        SimdPath.Set(bits);
        return new Restore();
    }

    private sealed class Restore : IDisposable
    {
        public void Dispose() => SimdPath.Reset();
    }
}
