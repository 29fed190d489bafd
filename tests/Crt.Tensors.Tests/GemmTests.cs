using Crt.Tensors.Kernels.Cpu;
using Xunit;

namespace Crt.Tensors.Tests;

/// <summary>
/// Sgemm against a float64 reference. The tolerance per element is the classic float32 dot-product
/// bound (k+2)·u·Σ|alpha·a·b| + 2u·|beta·c| with u = 2⁻²³, so an indexing mistake (an error of the
/// order of the terms themselves) cannot pass.
/// </summary>
public class GemmTests
{
    internal static float[] Rand(Random r, int n)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(r.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>Runs Sgemm on random operands with the given leading-dim padding and checks every element of C (padding included).</summary>
    internal static void CheckOne(bool ta, bool tb, int m, int n, int k, float alpha, float beta, int pad, bool parallel = true, int seed = 1,
        bool bias = false)
    {
        var r = new Random(seed * 7919 + m * 31 + n * 17 + k);
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        int aRows = ta ? k : m, bRows = tb ? n : k;
        var a = Rand(r, Math.Max(1, aRows * lda));
        var b = Rand(r, Math.Max(1, bRows * ldb));
        var c = Rand(r, Math.Max(1, m * ldc));
        var c0 = (float[])c.Clone();
        var rowBias = bias ? Rand(r, n) : null;
        if (rowBias is not null) { beta = 0f; Gemm.SgemmBias(ta, tb, m, n, k, alpha, a, lda, b, ldb, rowBias, c, ldc, parallel); }
        else Gemm.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, parallel);
        const double u = 1.0 / (1 << 23);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < ldc; j++)
            {
                int ci = i * ldc + j;
                if (j >= n) { Assert.Equal(c0[ci], c[ci]); continue; } // padding untouched
                double s = 0, abs = 0;
                for (int p = 0; p < k; p++)
                {
                    double av = ta ? a[p * lda + i] : a[i * lda + p];
                    double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                    s += av * bv; abs += Math.Abs(av * bv);
                }
                double add = rowBias is not null ? rowBias[j] : beta == 0 ? 0 : beta * (double)c0[ci];
                double want = alpha * s + add;
                double tol = (k + 2) * u * Math.Abs(alpha) * abs + 2 * u * Math.Abs(add) + 1e-30;
                double err = Math.Abs(c[ci] - want);
                if (!(err <= tol))
                    Assert.Fail($"ta={ta} tb={tb} m={m} n={n} k={k} alpha={alpha} beta={beta} pad={pad}: C[{i},{j}] = {c[ci]} vs {want} (err {err:G3}, tol {tol:G3})");
            }
    }

    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 3, 3, 3 }, { 1, 17, 33 }, { 17, 1, 33 }, { 3, 17, 1 }, { 17, 33, 3 },
        { 33, 65, 17 }, { 65, 33, 129 }, { 7, 129, 65 }, { 129, 7, 65 }, { 64, 64, 64 },
        { 129, 257, 33 }, { 257, 129, 65 }, { 33, 257, 257 }, { 257, 65, 257 }, { 200, 97, 300 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void AllTransposesMatchFloat64Reference(int m, int n, int k)
    {
        foreach (var ta in new[] { false, true })
            foreach (var tb in new[] { false, true })
            {
                CheckOne(ta, tb, m, n, k, 1f, 0f, pad: 0);
                CheckOne(ta, tb, m, n, k, -0.75f, 1.5f, pad: 3, seed: 2);
            }
    }

    [Theory]
    [InlineData(1f, 1f)]
    [InlineData(2f, -1f)]
    [InlineData(0.5f, 0f)]
    [InlineData(0f, 0.25f)]
    public void AlphaBetaAndSerialPath(float alpha, float beta)
    {
        foreach (var (m, n, k) in new[] { (5, 9, 4), (65, 97, 130), (130, 70, 33) })
            foreach (var ta in new[] { false, true })
                foreach (var tb in new[] { false, true })
                    foreach (var parallel in new[] { false, true })
                        CheckOne(ta, tb, m, n, k, alpha, beta, pad: 5, parallel: parallel);
    }

    [Fact]
    public void BiasIsAddedToEveryRow()
    {
        foreach (var (m, n, k) in new[] { (1, 1, 1), (5, 9, 4), (65, 97, 130), (130, 70, 33), (400, 70, 600), (3, 3300, 20) })
            foreach (var ta in new[] { false, true })
                foreach (var tb in new[] { false, true })
                    foreach (var parallel in new[] { false, true })
                        CheckOne(ta, tb, m, n, k, 0.75f, 0f, pad: 3, parallel: parallel, bias: true);
        var c = new float[6];
        Gemm.SgemmBias(false, false, 2, 3, 0, 1f, ReadOnlySpan<float>.Empty, 1, ReadOnlySpan<float>.Empty, 3, new[] { 1f, 2f, 3f }, c, 3);
        Assert.Equal(new[] { 1f, 2f, 3f, 1f, 2f, 3f }, c); // k = 0: C is the bias
    }

    /// <summary>
    /// The shared-B scheduler's row units cover every row once, in whole slivers, none taller than MC, and split evenly
    /// between the threads: with the units dealt out in turn, no thread ends with more than one sliver over another's
    /// share, plus one unit's worth where the units do not divide among the threads.
    /// </summary>
    [Fact]
    public void RowUnitsCoverEveryRowAndShareTheWorkEvenly()
    {
        foreach (int threads in new[] { 1, 2, 3, 4, 16 })
            foreach (int mr in new[] { 4, 6, 8 })
                foreach (int mc in new[] { 8 * mr, 72, 144 })
                    for (int m = 1; m <= 700; m += m < 64 ? 1 : 7)
                    {
                        var (units, maxRows) = Gemm.RowUnits(m, mr, mc, threads);
                        int next = 0, tallest = 0;
                        var load = new int[threads];
                        for (int u = 0; u < units; u++)
                        {
                            var (first, rows) = Gemm.UnitRows(u, units, m, mr);
                            Assert.Equal(next, first);
                            Assert.True(rows > 0 && (first % mr == 0), $"m {m}, mr {mr}: unit {u} of {units} starts at {first} with {rows} rows");
                            next = first + rows;
                            tallest = Math.Max(tallest, rows);
                            load[u % threads] += rows;
                        }
                        Assert.Equal(m, next);
                        Assert.True(tallest <= maxRows && maxRows <= Math.Max(mr, mc / mr * mr), $"m {m}, mr {mr}, MC {mc}: {tallest} rows in a unit, {maxRows} allowed");
                        int slack = units % threads == 0 ? mr * (units / threads) : maxRows;
                        Assert.True(load.Max() - load.Min() <= slack, $"m {m}, mr {mr}, {threads} threads: loads {string.Join(", ", load)} in {units} units");
                    }
        Assert.Equal((4, 56), Gemm.RowUnits(200, 8, 144, 2)); // sampling's decode step: 56 + 48 + 48 + 48 rows, not 64 + 64 + 64 + 8
    }

    [Fact]
    public void BlocksAcrossEveryCacheLevel()
    {
        // k > KC (several depth slices), m > MC (several row blocks), n > NC (several column panels).
        CheckOne(false, false, 400, 70, 600, 1f, 0.5f, pad: 1);
        CheckOne(true, true, 7, 3100, 9, 1f, 0f, pad: 2);
        CheckOne(false, true, 3, 3300, 20, 1f, 1f, pad: 0);
    }

    /// <summary>beta = 0 writes C without reading it; k = 0 only scales C.</summary>
    [Fact]
    public void BetaZeroIgnoresNaNsAndKZeroScales()
    {
        foreach (var (m, n, k) in new[] { (3, 5, 2), (70, 90, 80) })
        {
            var a = Enumerable.Repeat(1f, m * k).ToArray();
            var b = Enumerable.Repeat(2f, k * n).ToArray();
            var c = Enumerable.Repeat(float.NaN, m * n).ToArray();
            Gemm.Sgemm(false, false, m, n, k, 1f, a, k, b, n, 0f, c, n);
            Assert.All(c, v => Assert.Equal(2f * k, v));
        }
        var c2 = new[] { 1f, 2f, 3f, 4f };
        Gemm.Sgemm(false, false, 2, 2, 0, 1f, ReadOnlySpan<float>.Empty, 1, ReadOnlySpan<float>.Empty, 2, 3f, c2, 2);
        Assert.Equal(new[] { 3f, 6f, 9f, 12f }, c2);
        Gemm.Sgemm(false, false, 2, 2, 0, 1f, ReadOnlySpan<float>.Empty, 1, ReadOnlySpan<float>.Empty, 2, 0f, c2, 2);
        Assert.Equal(new[] { 0f, 0f, 0f, 0f }, c2);
    }

    [Fact]
    public void RejectsBuffersThatAreTooSmall()
    {
        var e1 = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 4, 4, 4, 1f, new float[15], 4, new float[16], 4, 0f, new float[16], 4));
        Assert.Contains("A holds 15", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, true, 4, 4, 4, 1f, new float[16], 4, new float[16], 3, 0f, new float[16], 4));
        Assert.Contains("ldb 3", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 4, 4, 4, 1f, new float[16], 4, new float[16], 4, 0f, new float[15], 4));
        Assert.Contains("C holds 15", e3.Message);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void BatchedMatchesOneCallPerItem(bool ta, bool tb)
    {
        var r = new Random(3);
        foreach (var (batch, m, n, k, shareB) in new[] { (5, 7, 9, 11, false), (3, 40, 70, 50, true), (2, 130, 100, 90, false), (4, 1, 33, 17, true) })
        {
            int sa = m * k, sb = shareB ? 0 : k * n, sc = m * n;
            var a = Rand(r, batch * sa);
            var b = Rand(r, shareB ? k * n : batch * sb);
            var c = Rand(r, batch * sc);
            var want = (float[])c.Clone();
            for (int i = 0; i < batch; i++)
                Gemm.Sgemm(ta, tb, m, n, k, 0.5f, a.AsSpan(i * sa, sa), ta ? m : k, b.AsSpan(i * sb, k * n), tb ? k : n,
                    2f, want.AsSpan(i * sc, sc), n, parallel: false);
            Gemm.SgemmBatched(ta, tb, batch, m, n, k, 0.5f, a, ta ? m : k, sa, b, tb ? k : n, sb, 2f, c, n, sc);
            for (int i = 0; i < c.Length; i++) Assert.True(Math.Abs(c[i] - want[i]) <= 1e-5f * (1 + Math.Abs(want[i])), $"batch {batch}x{m}x{n}x{k} element {i}: {c[i]} vs {want[i]}");
        }
    }
}

/// <summary>Every SIMD width, every micro-kernel of each and several blockings, switched process-wide, so the class runs alone.</summary>
[Collection(GlobalKernelSettings.Name)]
public class GemmBlockingTests
{
    public static TheoryData<int> Widths => SimdWidths.All;

    /// <summary>Odd sizes (every sliver edge), all transposes, beta = 0 / 1 / other (the kernels' store modes), serial and parallel.</summary>
    private static void CheckShapes()
    {
        foreach (var (m, n, k) in new[] { (17, 33, 65), (65, 129, 33), (100, 70, 97), (9, 200, 50), (300, 40, 90), (200, 96, 40) })
            foreach (var ta in new[] { false, true })
                foreach (var tb in new[] { false, true })
                {
                    GemmTests.CheckOne(ta, tb, m, n, k, 1f, 0f, pad: 0, parallel: false);
                    GemmTests.CheckOne(ta, tb, m, n, k, 0.5f, -1f, pad: 2, parallel: true, seed: 3);
                    GemmTests.CheckOne(ta, tb, m, n, k, -2f, 1f, pad: 1, parallel: false, seed: 4);
                    GemmTests.CheckOne(ta, tb, m, n, k, 1.5f, 0f, pad: 1, parallel: true, seed: 5, bias: true);
                }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void EveryKernelAndBlocking(int bits)
    {
        using var width = SimdWidths.Use(bits);
        if (!UnderEveryKernelAndBlocking(bits, CheckShapes)) Assert.Null(Gemm.Current); // the scalar width: the direct path only
    }

    /// <summary>
    /// Runs <paramref name="check"/> under every micro-kernel of the width in force and several blockings (the shared-B
    /// scheduler with BLIS order, the static per-thread split with GotoBLAS order), every product on the parallel path
    /// (where there are 2+ threads) and the scheduler in several column chunks; then restores the defaults. A width with
    /// no kernel (the scalar one) runs <paramref name="check"/> once, under those settings, and returns false.
    /// </summary>
    internal static bool UnderEveryKernelAndBlocking(int bits, Action check)
    {
        Gemm.ParallelWork = 0;
        Gemm.SharedBLimit = 3000;
        try
        {
            var shapes = Gemm.KernelShapes(bits);
            if (shapes.Length == 0) { check(); return false; }
            Assert.Equal(bits, Gemm.Current!.Bits);
            foreach (var (mr, nr) in shapes)
                foreach (var (kc, mc, nc, blis) in new[] { (384, 4096, 8 * nr, true), (256, 32 * mr, 96 * nr, false), (16, 3 * mr, 2 * nr, true), (24, 3 * mr, 3 * nr, false) })
                {
                    Assert.True(Gemm.Configure(mr, nr, kc, mc, nc, blis), $"{bits}-bit {mr}x{nr}");
                    Gemm.StaticSplit = !blis;
                    check();
                }
            return true;
        }
        finally
        {
            Gemm.Configure(0);
            Gemm.StaticSplit = false;
            Gemm.ParallelWork = Gemm.DefaultParallelWork;
            Gemm.SharedBLimit = Gemm.DefaultSharedBLimit;
        }
    }

    /// <summary>
    /// A product whose last sliver is only partly real (n not a multiple of NR) runs a narrower kernel there; each of its
    /// columns must come out bit-identical to the same column of a product with whole slivers only (B widened with extra
    /// columns), for every kernel of every width, every store mode (beta 0, beta 1 over several depth slices, a bias) and
    /// both thread paths.
    /// </summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void EdgeSliversSumAsWholeSlivers(int bits)
    {
        using var width = SimdWidths.Use(bits);
        if (bits == 0) return; // no packed path
        int lanes = bits / 32;
        try
        {
            foreach (var (mr, nr) in Gemm.KernelShapes(bits))
            {
                Assert.True(Gemm.Configure(mr, nr, kc: 40, mc: 4 * mr, nc: 2 * nr));
                for (int cols = 1; cols < nr; cols += cols % lanes == 0 ? 1 : lanes - 1) // 1, lanes, lanes+1, 2·lanes, …
                    foreach (bool parallel in new[] { false, true })
                        CompareWithWholeSlivers(2 * mr + 3, 2 * nr + cols, 97, parallel, $"{bits}-bit {mr}x{nr}, {cols} columns");
            }
        }
        finally { Gemm.Configure(0); }
    }

    private static void CompareWithWholeSlivers(int m, int n, int k, bool parallel, string what)
    {
        var r = new Random(n * 131 + m);
        int wide = (n / 16 + 2) * 16 + 48; // whole slivers for every NR here, and more columns than n
        var a = GemmTests.Rand(r, m * k);
        var bWide = GemmTests.Rand(r, k * wide);
        var b = new float[k * n];
        for (int p = 0; p < k; p++) Array.Copy(bWide, p * wide, b, p * n, n);
        var c0 = GemmTests.Rand(r, m * wide);
        var bias = GemmTests.Rand(r, wide);
        for (int mode = 0; mode < 3; mode++)
        {
            var cWide = (float[])c0.Clone();
            var c = new float[m * n];
            for (int i = 0; i < m; i++) Array.Copy(c0, i * wide, c, i * n, n);
            if (mode == 2)
            {
                Gemm.SgemmBias(false, false, m, wide, k, 1f, a, k, bWide, wide, bias, cWide, wide, parallel);
                Gemm.SgemmBias(false, false, m, n, k, 1f, a, k, b, n, bias.AsSpan(0, n).ToArray(), c, n, parallel);
            }
            else
            {
                float beta = mode; // 0: C is overwritten; 1: C is added to, one depth slice after another
                Gemm.Sgemm(false, false, m, wide, k, 1f, a, k, bWide, wide, beta, cWide, wide, parallel);
                Gemm.Sgemm(false, false, m, n, k, 1f, a, k, b, n, beta, c, n, parallel);
            }
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    if (BitConverter.SingleToInt32Bits(c[i * n + j]) != BitConverter.SingleToInt32Bits(cWide[i * wide + j]))
                        Assert.Fail($"{what}, store mode {mode}, parallel {parallel}: C[{i},{j}] = {c[i * n + j]:R} vs {cWide[i * wide + j]:R} with whole slivers");
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void DefaultKernelFollowsTheWidth(int bits)
    {
        using (SimdWidths.Use(bits))
        {
            Assert.Equal(bits == 0 ? null : bits, Gemm.Current?.Bits);
            // A configured kernel applies only at the width it was made for.
            if (bits != 0)
            {
                var (mr, nr) = Gemm.KernelShapes(bits)[^1];
                Assert.True(Gemm.Configure(mr, nr, 64, 64, 4 * nr));
                try
                {
                    Assert.Equal((mr, nr), (Gemm.Current!.MR, Gemm.Current.NR));
                    SimdPath.Set(bits == 128 ? 256 : 128);
                    Assert.NotEqual(bits, Gemm.Current!.Bits);
                }
                finally { Gemm.Configure(0); }
            }
        }
        Assert.Equal(SimdPath.Bits == 0 ? null : SimdPath.Bits, Gemm.Current?.Bits); // back to the process's own width
    }

    [Theory]
    [InlineData(8, 48, 48 << 10, 1 << 20, 1024, 96)]   // Zen 5 at 512 bits: 32 KB A sliver, 384 KB B block
    [InlineData(8, 48, 48 << 10, 1280 << 10, 1024, 96)] // Ice Lake server at 512 bits
    [InlineData(8, 32, 48 << 10, 1 << 20, 1024, 96)]
    [InlineData(6, 16, 48 << 10, 1 << 20, 1024, 96)]   // the same core at 256 bits (KC capped)
    [InlineData(8, 32, 32 << 10, 512 << 10, 672, 64)]  // a 32 KB / 512 KB core
    [InlineData(8, 12, 128 << 10, 16 << 20, 1024, 1020)] // big ARM caches: both capped
    [InlineData(6, 8, 16 << 10, 256 << 10, 448, 48)]
    [InlineData(8, 32, 4 << 10, 64 << 10, 256, 64)]    // tiny caches: the floors
    public void BlockingFollowsTheCaches(int mr, int nr, int l1d, int l2, int kc, int nc)
    {
        Assert.Equal((kc, nc), Gemm.Blocking(mr, nr, l1d, l2));
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void DefaultBlockingComputesProductsDeeperThanTwoSlices(int bits)
    {
        using var width = SimdWidths.Use(bits);
        if (Gemm.Current is not { } cfg) return; // the scalar width has no blocking
        // k crosses two depth-slice boundaries, n several column blocks, m a partial sliver; both thread paths.
        foreach (bool parallel in new[] { false, true })
            GemmTests.CheckOne(false, false, 2 * cfg.MR + 3, 2 * cfg.NC + cfg.NR / 2 + 1, 2 * cfg.KC + 19, 1f, 0.5f, pad: 3, parallel: parallel);
    }
}
