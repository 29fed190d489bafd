using Crt.Tensors.Backends;
using Xunit;

namespace Crt.Tensors.Tests;

/// <summary>
/// Reduced-precision matrix products on the GPU backend: TF32 and bfloat16 round each input's mantissa (to nearest
/// even) before float32 sums. Checked on ilgpu-cpu against the CPU's float32 product of inputs rounded on the host.
/// </summary>
[Collection(GlobalKernelSettings.Name)] // sets the shared ilgpu-cpu device's precision: no other test may run meanwhile
public class IlgpuPrecisionTests
{
    /// <summary>The host reference of the rounding: drop the lowest bits of the mantissa, to nearest even.</summary>
    private static float Round(float x, int dropBits)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        if ((bits & 0x7F800000u) == 0x7F800000u) return x;
        uint half = (1u << (dropBits - 1)) - 1u + ((bits >> dropBits) & 1u);
        return BitConverter.UInt32BitsToSingle((bits + half) & ~((1u << dropBits) - 1u));
    }

    [Theory]
    [InlineData(MatmulPrecision.Tf32, 13)]
    [InlineData(MatmulPrecision.Bf16, 16)]
    public void AMatmulRoundsItsInputsAsTheGpuDoes(MatmulPrecision precision, int dropBits)
    {
        var gpu = Device.Parse("ilgpu-cpu");
        var rng = new Rng(4);
        var a = rng.Normal([5, 7]);
        var b = rng.Normal([7, 3]);
        var exact = Ops.MatMul(a, b);
        var rounded = Ops.MatMul(Tensor.FromArray(a.ToArray().Select(v => Round(v, dropBits)).ToArray(), 5, 7),
            Tensor.FromArray(b.ToArray().Select(v => Round(v, dropBits)).ToArray(), 7, 3));
        Tensor y;
        gpu.Precision = precision;
        try { y = Ops.MatMul(a.To(gpu), b.To(gpu)).To(Device.Cpu); }
        finally { gpu.Precision = MatmulPrecision.Fp32; }
        Parity.AssertClose(rounded, y, 1e-6, $"{precision} product vs the product of rounded inputs");
        Assert.True(BackendParity.RelativeError(exact, y) > 1e-5, $"{precision}: the product equals float32's: nothing was rounded");
    }

    [Fact]
    public void Bf16ConversionIsRoundToNearestEven()
    {
        var gpu = Device.Parse("ilgpu-cpu");
        float[] values = [1f, 1.00390625f, 1.01171875f, -3.14159f, 1e-30f, float.PositiveInfinity, 65504.5f, 0f];
        var table = (Crt.Tensors.Backends.Ilgpu.IlgpuKernelTable)gpu.Kernels;
        var packed = table.Bf16Copy(Tensor.FromArray(values, values.Length).To(gpu)).ToArray();
        var halves = System.Runtime.InteropServices.MemoryMarshal.Cast<float, ushort>(packed);
        for (int i = 0; i < values.Length; i++)
            Assert.Equal(BitConverter.SingleToUInt32Bits(Round(values[i], 16)) >> 16, halves[i]);
    }
}
