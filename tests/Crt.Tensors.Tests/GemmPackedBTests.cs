using Crt.Tensors.Kernels.Cpu;
using Crt.Tensors.Nn;
using Xunit;

namespace Crt.Tensors.Tests;

/// <summary>
/// B packed once (<see cref="Gemm.SgemmPackedB"/>, behind <see cref="FrozenWeights"/>) must give the very bits the
/// blocked product gives, at every width, micro-kernel and blocking, on one thread and split across threads: sampling
/// with it must draw the same tokens as without it. The class switches process-wide settings, so it runs alone.
/// </summary>
[Collection(GlobalKernelSettings.Name)]
public class GemmPackedBTests
{
    /// <summary>Sgemm (or SgemmBias) and the packed-B product on the same operands, compared bit for bit, C's padding included.</summary>
    private static void CheckOne(bool ta, bool tb, int m, int n, int k, float alpha, float beta, bool bias, bool parallel, int seed)
    {
        if (!Gemm.PacksB(m, n, k)) return; // the direct path: nothing is packed there
        var r = new Random(seed * 7919 + m * 31 + n * 17 + k);
        int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 3;
        var a = GemmTests.Rand(r, (ta ? k : m) * lda);
        var b = GemmTests.Rand(r, (tb ? n : k) * ldb);
        var c0 = GemmTests.Rand(r, m * ldc);
        var rowBias = bias ? GemmTests.Rand(r, n) : null;
        var want = (float[])c0.Clone();
        var got = (float[])c0.Clone();
        if (rowBias is not null) Gemm.SgemmBias(ta, tb, m, n, k, alpha, a, lda, b, ldb, rowBias, want, ldc, parallel);
        else Gemm.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc, parallel);
        var packed = Gemm.PackAllOfB(tb, b, ldb, n, k);
        Gemm.SgemmPackedB(ta, m, alpha, a, lda, packed, beta, got, ldc, rowBias, parallel);
        for (int i = 0; i < want.Length; i++)
            if (BitConverter.SingleToInt32Bits(want[i]) != BitConverter.SingleToInt32Bits(got[i]))
                Assert.Fail($"{Gemm.Current?.Name} ta={ta} tb={tb} m={m} n={n} k={k} alpha={alpha} beta={beta} bias={bias} parallel={parallel}: " +
                            $"C[{i / ldc},{i % ldc}] = {got[i]:R}, the blocked product gives {want[i]:R}");
    }

    private static void CheckShapes()
    {
        foreach (var (m, n, k) in new[] { (2, 200, 97), (2, 33, 300), (3, 129, 65), (8, 96, 40), (17, 70, 130), (65, 129, 33), (200, 96, 40) })
            foreach (var ta in new[] { false, true })
                foreach (var tb in new[] { false, true })
                {
                    CheckOne(ta, tb, m, n, k, 1f, 0f, bias: false, parallel: false, seed: 1);
                    CheckOne(ta, tb, m, n, k, 0.5f, -1f, bias: false, parallel: true, seed: 2);
                    CheckOne(ta, tb, m, n, k, -2f, 1f, bias: false, parallel: true, seed: 3);
                    CheckOne(ta, tb, m, n, k, 1f, 0f, bias: true, parallel: true, seed: 4);
                    CheckOne(ta, tb, m, n, k, 1.5f, 0f, bias: true, parallel: false, seed: 5);
                }
    }

    [Theory]
    [MemberData(nameof(SimdWidths.All), MemberType = typeof(SimdWidths))]
    public void PackedBGivesTheBlockedProductsBits(int bits)
    {
        using var width = SimdWidths.Use(bits);
        if (!GemmBlockingTests.UnderEveryKernelAndBlocking(bits, CheckShapes))
        {
            Assert.False(Gemm.PacksB(200, 96, 40)); // the scalar width packs nothing
            return;
        }
        CheckShapes(); // and the default blocking, at the default parallel threshold
    }

    [Fact]
    public void APackedBFromAnotherConfigurationIsRefused()
    {
        if (Gemm.KernelShapes(SimdPath.Bits) is not { Length: > 0 } shapes) return;
        var b = new float[40 * 96];
        var packed = Gemm.PackAllOfB(false, b, 96, 96, 40);
        try
        {
            var (mr, nr) = shapes[0];
            Gemm.Configure(mr, nr, 16, 3 * mr, 2 * nr, true);
            var err = Assert.Throws<InvalidOperationException>(() => Gemm.SgemmPackedB(false, 8, 1f, new float[8 * 40], 40, packed, 0f, new float[8 * 96], 96));
            Assert.Contains("was packed for", err.Message);
        }
        finally { Gemm.Configure(0); }
    }

    [Fact]
    public void FrozenWeightsPackEachWeightOnceAndLinearKeepsItsBits()
    {
        var rng = new Rng(3);
        var layer = new Linear(96, 200, rng: rng);
        var other = rng.Uniform(new[] { 200, 96 }, -1, 1);
        var x = rng.Uniform(new[] { 4, 96 }, -1, 1);
        using var noGrad = Tensor.NoGrad();
        var plain = layer.Forward(x).ToArray();
        var plainOther = Ops.Linear(x, other).ToArray();
        using (var frozen = FrozenWeights.Begin(layer.Parameters()))
        {
            for (int i = 0; i < 3; i++) Assert.Equal(plain, layer.Forward(x).ToArray());
            Assert.Equal(plainOther, Ops.Linear(x, other).ToArray()); // not frozen: packed as before, not kept
            Assert.Equal(1, frozen.Packs);
            Assert.Equal(2, frozen.Reuses);
            Assert.True(frozen.PackedBytes >= 200 * 96 * sizeof(float));

            // A skinny product runs the direct path and is never packed.
            var one = rng.Uniform(new[] { 1, 96 }, -1, 1);
            Ops.Linear(one, layer.Weight, layer.Bias);
            Assert.Equal(1, frozen.Packs);
        }
        using (var tight = FrozenWeights.Begin(layer.Parameters(), budgetBytes: 1000))
        {
            Assert.Equal(plain, layer.Forward(x).ToArray()); // over the budget: packed per product, as before
            Assert.Equal(0, tight.Packs);
        }
    }

    [Fact]
    public void ScopesEndInReverseOrder()
    {
        var w = new[] { Tensor.Zeros(4, 4) };
        var outer = FrozenWeights.Begin(w);
        var inner = FrozenWeights.Begin(w);
        Assert.Throws<InvalidOperationException>(() => outer.Dispose());
        inner.Dispose();
        outer.Dispose();
    }
}
