using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Single-precision GEMM, row-major: C[m×n] = alpha·op(A)·op(B) + beta·C, where op(A) is m×k and
/// op(B) is k×n. With transA, A is stored k×m (lda ≥ m); with transB, B is stored n×k (ldb ≥ k).
/// With beta = 0, C is written without being read (NaNs in C do not propagate).
/// </summary>
/// <remarks>
/// BLIS structure: for each KC-deep slice of k, alpha·op(A) is packed into MR-tall slivers (an MC-row
/// block at a time) and op(B) into NR-wide slivers (a KC×NC block at a time, 64-byte aligned,
/// thread-local buffers); the MR×NR register-tiled micro-kernel keeps one A sliver in L1 while the B block
/// in L2 streams past it. The micro-kernels (GemmKernels.cs, generated) exist for every SIMD width and the
/// configuration follows <see cref="SimdPath.Bits"/> at each call: 8×48 at 512 bits (AVX-512), 6×16 at 256
/// (AVX2 + FMA: 12 accumulators in its 16 registers), 8×12 at 128 on ARM64 (24 of its 32 NEON registers) and
/// 6×8 at 128 on x86 (SSE); at width 0 every product takes the scalar direct path. All four transpose
/// combinations are absorbed by the packing (8×8 AVX transposes where a copy is strided, scalar copies
/// elsewhere). Small or skinny products take a direct path that does not pack. Large products run on all
/// cores through the shared-B scheduler (GemmParallel.cs); products that share one A can pack it once
/// (GemmPackedA.cs).
/// </remarks>
public static unsafe partial class Gemm
{
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc,
        bool parallel = true)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pc = c)
            Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, parallel);
    }

    /// <summary>
    /// C[m×n] = alpha·op(A)·op(B) + bias, the row vector bias [n] added to every row (a linear layer): the bias
    /// goes in as the micro-kernels store their first results, so C is written once and never read.
    /// </summary>
    public static void SgemmBias(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, ReadOnlySpan<float> bias, Span<float> c, int ldc,
        bool parallel = true)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (bias.Length != n) throw new ArgumentException($"sgemm: bias holds {bias.Length} elements, C has {n} columns");
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pc = c, pbias = bias)
            Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, 0f, pc, ldc, parallel, pbias);
    }

    /// <summary>
    /// <paramref name="batch"/> independent GEMMs over strided operands: C_i = alpha·op(A_i)·op(B_i) + beta·C_i
    /// with A_i at a[i·strideA], B_i at b[i·strideB], C_i at c[i·strideC]. A stride of 0 shares that operand
    /// across the batch (C's stride must not be 0 unless batch is 1).
    /// </summary>
    public static void SgemmBatched(bool transA, bool transB, int batch, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, int strideA, ReadOnlySpan<float> b, int ldb, int strideB,
        float beta, Span<float> c, int ldc, int strideC, bool parallel = true)
    {
        if (batch < 0 || strideA < 0 || strideB < 0 || strideC < 0)
            throw new ArgumentException($"sgemm batched: negative batch {batch} or stride ({strideA}, {strideB}, {strideC})");
        if (batch == 0 || m == 0 || n == 0) return;
        if (batch > 1 && strideC == 0) throw new ArgumentException("sgemm batched: C stride 0 would make the batch overwrite itself");
        long last = batch - 1;
        Validate(transA, transB, m, n, k,
            a.Length - last * strideA, lda, b.Length - last * strideB, ldb, c.Length - last * strideC, ldc);
        fixed (float* pa = a, pb = b, pc = c)
        {
            long work = (long)m * n * k;
            if (!parallel || batch == 1 || work >= DefaultParallelWork * 4)
            {
                for (int i = 0; i < batch; i++)
                    Run(transA, transB, m, n, k, alpha, pa + (long)i * strideA, lda, pb + (long)i * strideB, ldb,
                        beta, pc + (long)i * strideC, ldc, parallel);
                return;
            }
            nint ia = (nint)pa, ib = (nint)pb, ic = (nint)pc;
            Par.ForRange(batch, work, (s, e) =>
            {
                for (int i = s; i < e; i++)
                    Run(transA, transB, m, n, k, alpha, (float*)ia + (long)i * strideA, lda, (float*)ib + (long)i * strideB, ldb,
                        beta, (float*)ic + (long)i * strideC, ldc, parallel: false);
            });
        }
    }

    private static void Validate(bool transA, bool transB, int m, int n, int k,
        long aLen, int lda, long bLen, int ldb, long cLen, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"sgemm: negative size m={m} n={n} k={k}");
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        if (lda < Math.Max(1, aCols)) throw new ArgumentException($"sgemm: lda {lda} is less than A's width {aCols}");
        if (ldb < Math.Max(1, bCols)) throw new ArgumentException($"sgemm: ldb {ldb} is less than B's width {bCols}");
        if (ldc < Math.Max(1, n)) throw new ArgumentException($"sgemm: ldc {ldc} is less than C's width {n}");
        if (m == 0 || n == 0) return;
        if (k > 0 && aLen < (long)(aRows - 1) * lda + aCols)
            throw new ArgumentException($"sgemm: A holds {aLen} elements, {aRows}x{aCols} with lda {lda} needs {(long)(aRows - 1) * lda + aCols}");
        if (k > 0 && bLen < (long)(bRows - 1) * ldb + bCols)
            throw new ArgumentException($"sgemm: B holds {bLen} elements, {bRows}x{bCols} with ldb {ldb} needs {(long)(bRows - 1) * ldb + bCols}");
        if (cLen < (long)(m - 1) * ldc + n)
            throw new ArgumentException($"sgemm: C holds {cLen} elements, {m}x{n} with ldc {ldc} needs {(long)(m - 1) * ldc + n}");
    }

    // ---- configuration --------------------------------------------------------------------------------

    /// <summary>m·n·k below which a product runs on one thread.</summary>
    internal static long ParallelWork = DefaultParallelWork;
    internal const long DefaultParallelWork = 1L << 20;

    /// <summary>m·n·k at or below which the direct (unpacked) path runs.</summary>
    internal const long DirectWork = 24 * 24 * 24;

    /// <summary>Micro-kernel and blocking of the packed path, for one SIMD width; replaced whole (tests and tuning use <see cref="Configure"/>).</summary>
    internal sealed class Config
    {
        public required int Bits, MR, NR, KC, MC, NC;
        /// <summary>true: BLIS order (an A sliver stays in L1, the B block in L2 streams past it); false: GotoBLAS order (a B sliver in L1, the A block in L2).</summary>
        public required bool BlisOrder;
        public required nint KernelPtr;
        /// <summary>Kernels for the first 1, 2, … vectors of an NR-wide sliver (the last entry is <see cref="KernelPtr"/>).</summary>
        public required nint[] NarrowPtrs;
        public required string Name;
        public delegate*<int, float*, float*, float*, int, float, int, float*, void> Kernel =>
            (delegate*<int, float*, float*, float*, int, float, int, float*, void>)KernelPtr;

        /// <summary>The kernel for a sliver with <paramref name="cols"/> real columns (the rest zero padding) and the
        /// columns it computes: the fewest whole vectors that hold them.</summary>
        public (nint Kernel, int Cols) ForColumns(int cols)
        {
            int lanes = Bits / 32, vectors = Math.Min(NarrowPtrs.Length, (cols + lanes - 1) / lanes);
            return (NarrowPtrs[vectors - 1], vectors * lanes);
        }
    }

    /// <summary>The tuning override (<see cref="Configure"/>); it applies only while SimdPath.Bits is the width it was made for.</summary>
    private static Config? s_override;
    private static readonly Config?[] s_defaults = { DefaultConfig(0), DefaultConfig(128), DefaultConfig(256), DefaultConfig(512) };

    /// <summary>The configuration for the SIMD width in force now (<see cref="SimdPath.Bits"/>, read at each call); null: the scalar path.</summary>
    internal static Config? Current
    {
        get
        {
            int bits = SimdPath.Bits;
            var o = s_override;
            if (o is not null && o.Bits == bits) return o;
            return s_defaults[bits switch { 512 => 3, 256 => 2, 128 => 1, _ => 0 }];
        }
    }

    /// <summary>Whether the 32-register vector file is there (AVX-512 or ARM64); x86 without AVX-512 has 16.</summary>
    private static bool ManyRegisters => Avx512F.IsSupported || AdvSimd.Arm64.IsSupported;

    /// <remarks>
    /// 512: 8×48, 24 zmm accumulators + 3 B vectors + 1 broadcast of AVX-512's 32 registers (.NET 10's JIT keeps them all
    /// in registers); 24 FMAs per 11 loads per k step. On a CPU with two 512-bit FMA units (Intel Xeon, Ice Lake server,
    /// 2026-12-07: kernel alone on one core, packed operands in L1, FMA peak 164–168 GFLOP/s) 8×48 ran at 166–174 and
    /// 8×32 (16 accumulators, 16 FMAs per 10 loads) at 113–146; sgemm-1024 on both cores went from 214–223 to 249 GFLOP/s.
    /// A last sliver with fewer real columns runs a narrower kernel (<see cref="Config.ForColumns"/>), which sums alike.
    /// 256: 6×16, 12 ymm accumulators + 2 B vectors + 1 broadcast of the 16 registers AVX2 has. Measured on Zen 5
    /// with AVX-512 off (kernel alone, one core, FMA peak 112 GFLOP/s): 6×16 115, 4×24 113, 8×16 66 (16 accumulators
    /// spill); 6×16 also streams less of B from L2 per FMA than 4×24.
    /// 128: 8×12 (24 accumulators) on ARM64's 32 NEON registers, 6×8 (12) within SSE's 16.
    /// 0: no packed path; every product takes the scalar direct path.
    /// KC and NC follow this machine's caches (<see cref="Blocking"/>).
    /// </remarks>
    private static Config? DefaultConfig(int bits)
    {
        var (mr, nr) = bits switch { 512 => (8, 48), 256 => (6, 16), 128 when ManyRegisters => (8, 12), 128 => (6, 8), _ => (0, 0) };
        if (mr == 0) return null;
        var (l1d, l2) = CpuCaches.Detected;
        var (kc, nc) = Blocking(mr, nr, l1d ?? CpuCaches.FallbackL1d, l2 ?? CpuCaches.FallbackL2);
        return Make(bits, mr, nr, kc, 1024, nc, blis: true);
    }

    /// <summary>
    /// Depth and width of the packed blocks for an MR×NR kernel: the MR×KC A sliver fills two thirds of the L1 data
    /// cache (the rest holds the B rows streaming past it), and the KC×NC B block three eighths of L2 (A slivers and C
    /// lines pass through the rest). KC is kept within 256–1024 and NC within 2·NR–1024.
    /// </summary>
    /// <remarks>
    /// A deep KC writes C fewer times per product (once per depth slice). On a 2-core AMD EPYC with AVX-512 (Zen 5
    /// class: 48 KB L1d, 1 MB L2) this gives KC 1024 and NC 96 for both 8×32 and 6×16; against the blocking tuned
    /// there before (KC 384 / NC 448 at 512 bits, 256 / 768 at 256), sgemm-1024 on two threads took 0.965–0.971 of
    /// the time at 512 bits and 0.973–0.993 at 256 (bench/compare_builds.py, 4–8 alternating rounds), with the
    /// training steps unchanged within the noise. On an AVX2-only EPYC (Zen 3 class: 32 KB L1d, 512 KB L2) it gives
    /// 6×16 with KC 896 and NC 48; there KC 256–896 × NC 48–192, the 4×24 kernel and B prefetched inside the kernel
    /// all timed sgemm-1024 within ±2.3% of it (4 alternating rounds each, 2026-12-07).
    /// </remarks>
    internal static (int Kc, int Nc) Blocking(int mr, int nr, int l1dBytes, int l2Bytes)
    {
        int kc = (int)Math.Clamp(2L * l1dBytes / 3 / (4L * mr) / 16 * 16, 256, 1024);
        int nc = (int)Math.Clamp(3L * l2Bytes / 8 / (4L * kc) / nr * nr, 2L * nr, 1024 / nr * nr);
        return (kc, nc);
    }

    /// <summary>"L1d 48 KB, L2 1024 KB per core; GEMM at 512 bits: 8x48 kernel, KC 1024, NC 96" (crt doctor).</summary>
    public static string DescribeBlocking()
    {
        var (l1d, l2) = CpuCaches.Detected;
        string Kb(int? bytes, int fallback) => bytes is { } b ? $"{b >> 10} KB" : $"{fallback >> 10} KB (not readable here; assumed)";
        var cfg = Current;
        return $"L1d {Kb(l1d, CpuCaches.FallbackL1d)}, L2 {Kb(l2, CpuCaches.FallbackL2)} per core; GEMM " +
            (cfg is null ? "on the scalar direct path" : $"at {cfg.Bits} bits: {cfg.MR}x{cfg.NR} kernel, KC {cfg.KC}, NC {cfg.NC}");
    }

    /// <summary>The micro-kernel shapes (MR, NR) there are for a SIMD width (NR = vectors × lanes).</summary>
    internal static (int Mr, int Nr)[] KernelShapes(int bits)
    {
        int lanes = bits / 32;
        return bits is 512 or 256 or 128 ? new[] { (8, 2 * lanes), (6, 2 * lanes), (4, 3 * lanes), (8, 3 * lanes) } : Array.Empty<(int, int)>();
    }

    /// <summary>
    /// Selects a micro-kernel of the current SIMD width (one of <see cref="KernelShapes"/>) and the blocking, for as
    /// long as that width is in force; returns false when the width has no such kernel. <paramref name="mr"/> = 0 restores the default.
    /// </summary>
    internal static bool Configure(int mr, int nr = 32, int kc = 384, int mc = 1024, int nc = 448, bool blis = true)
    {
        if (mr == 0) { s_override = null; return true; }
        var cfg = Make(SimdPath.Bits, mr, nr, kc, mc, nc, blis);
        if (cfg is null) return false;
        s_override = cfg;
        return true;
    }

    private static Config? Make(int bits, int mr, int nr, int kc, int mc, int nc, bool blis)
    {
        int lanes = bits / 32;
        if (lanes == 0 || nr % lanes != 0) return null;
        nint[]? k = GemmKernels.Family(bits, mr, nr / lanes); // for 1, 2, … of its vectors, the full tile last
        if (k == null) return null;
        return new Config
        {
            Bits = bits, MR = mr, NR = nr, KC = Math.Max(1, kc), MC = Math.Max(mr, mc / mr * mr), NC = Math.Max(nr, nc / nr * nr),
            BlisOrder = blis, KernelPtr = k[^1], NarrowPtrs = k, Name = $"{bits}-bit {mr}x{nr} kc{kc} mc{mc} nc{nc} {(blis ? "blis" : "goto")}",
        };
    }

    // ---- driver ---------------------------------------------------------------------------------------

    /// <param name="bias">null, or a row vector [n] added to every row of C (then beta is 0): C = alpha·op(A)·op(B) + bias.</param>
    private static void Run(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, bool parallel, float* bias = null)
    {
        if (k == 0 || alpha == 0f) { ScaleC(m, n, beta, c, ldc); if (bias != null) FillBias(m, n, bias, c, ldc); return; }
        long work = (long)m * n * k;
        var cfg = Current;
        bool direct = IsDirect(cfg, m, n, k);
        int threads = parallel && work >= ParallelWork ? Math.Max(1, Par.Threads) : 1;
        if (direct)
        {
            if (threads > 1)
            {
                nint ia = (nint)a, ib = (nint)b, ic = (nint)c, ibias = (nint)bias;
                Par.ForRange(m, (long)n * k, (s, e) =>
                {
                    if (ibias != 0) FillBias(e - s, n, (float*)ibias, (float*)ic + (long)s * ldc, ldc);
                    Direct(transA, transB, e - s, n, k, alpha, (float*)ia + OffA(transA, s, lda), lda, (float*)ib, ldb,
                        ibias != 0 ? 1f : beta, (float*)ic + (long)s * ldc, ldc);
                });
            }
            else
            {
                if (bias != null) { FillBias(m, n, bias, c, ldc); beta = 1f; }
                Direct(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            }
            return;
        }
        if (threads <= 1) { Blocked(cfg!, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias); return; }
        if (!StaticSplit) { ParallelBlocked(cfg!, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias); return; }

        // Split the rows (each thread packs its own A rows; B is packed by both, which is the cheaper copy)
        // unless there are too few row slivers to go around, then split the columns.
        int MR = cfg!.MR, NR = cfg.NR;
        int mSlivers = (m + MR - 1) / MR, nSlivers = (n + NR - 1) / NR;
        bool splitM = mSlivers >= 2 * threads || mSlivers >= nSlivers;
        int units = splitM ? mSlivers : nSlivers, unit = splitM ? MR : NR, full = splitM ? m : n;
        int parts = Math.Min(threads, units);
        if (parts <= 1) { Blocked(cfg, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias); return; }
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c, pbias = (nint)bias;
        Par.For(parts, long.MaxValue / 2 / parts, t =>
        {
            int s = (int)((long)units * t / parts) * unit, e = Math.Min(full, (int)((long)units * (t + 1) / parts) * unit);
            if (e <= s) return;
            if (splitM)
                Blocked(cfg, transA, transB, e - s, n, k, alpha, (float*)pa + OffA(transA, s, lda), lda, (float*)pb, ldb,
                    beta, (float*)pc + (long)s * ldc, ldc, (float*)pbias);
            else
                Blocked(cfg, transA, transB, m, e - s, k, alpha, (float*)pa, lda, (float*)pb + (transB ? (long)s * ldb : s), ldb,
                    beta, (float*)pc + s, ldc, pbias == 0 ? null : (float*)pbias + s);
        });
    }

    /// <summary>Tuning switch: split the product into one static part per thread (each packing its own B) instead of the shared-B scheduler.</summary>
    internal static bool StaticSplit;

    private static long OffA(bool transA, int row, int lda) => transA ? row : (long)row * lda;

    private static void ScaleC(int m, int n, float beta, float* c, int ldc)
    {
        if (beta == 1f) return;
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (long)i * ldc, n);
            if (beta == 0f) row.Clear();
            else System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
    }

    /// <summary>Products too small or too narrow to pay for packing (or at the scalar width) run unpacked (<see cref="Direct"/>):
    /// narrower than half a vector (the direct path sums in another order, so this bound does not follow the kernel's NR:
    /// 8 columns at 512 bits, as under the 8×32 kernel before 8×48, and 4 at 256).</summary>
    internal static bool IsDirect(Config? cfg, int m, int n, int k) => cfg is null || (long)m * n * k <= DirectWork || n < cfg.Bits / 64 || m < 2;

    private static void Blocked(Config cfg, bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, float* bias)
    {
        if (cfg.BlisOrder) BlockedBlis(cfg, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias);
        else BlockedGoto(cfg, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias);
    }

    /// <summary>Depth of each slice a k-deep product is cut into: slices of equal depth, none deeper than KC.</summary>
    internal static int DepthSlice(Config cfg, int k)
    {
        int kBlocks = Math.Max(1, (k + cfg.KC - 1) / cfg.KC);
        return (k + kBlocks - 1) / kBlocks;
    }

    /// <summary>Store mode of the depth slice at <paramref name="pc"/>: 0 C = acc, 1 C += acc, 2 C = beta·C + acc, 3 C = acc + bias.</summary>
    private static int Mode(int pc, float beta, float* bias) => pc > 0 || beta == 1f ? 1 : bias != null ? 3 : beta == 0f ? 0 : 2;

    /// <summary>Every row of C [m×n] = bias [n].</summary>
    private static void FillBias(int m, int n, float* bias, float* c, int ldc)
    {
        var src = new ReadOnlySpan<float>(bias, n);
        for (int i = 0; i < m; i++) src.CopyTo(new Span<float>(c + (long)i * ldc, n));
    }

    /// <summary>
    /// BLIS order: an MR×KC sliver of A stays in L1 while the KC×NC block of B (in L2) streams past it;
    /// A is packed in tall blocks (L3) so B is packed about once per depth slice.
    /// </summary>
    /// <param name="aPacked">null, or all of alpha·op(A) packed beforehand (<see cref="PackedA"/>): then A is one row
    /// block and is not packed here.</param>
    /// <param name="bPacked">null, or all of op(B) packed beforehand in the <see cref="PackedBLayout"/> of this
    /// configuration: then B is not packed here.</param>
    /// <param name="bRound">With <paramref name="bPacked"/>: the packed B's columns rounded up to whole slivers (its slice
    /// stride), when this product covers only some of them (0: this product's own n, rounded).</param>
    /// <param name="bCol">With <paramref name="bPacked"/>: the packed B's column that is this product's first (a multiple of NR).</param>
    private static void BlockedBlis(Config cfg, bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, float* bias, float* aPacked = null, float* bPacked = null,
        int bRound = 0, int bCol = 0)
    {
        int mr = cfg.MR, nr = cfg.NR;
        var kernel = cfg.Kernel;
        int kcMax = DepthSlice(cfg, k);
        int mBlocks = aPacked != null ? 1 : (m + cfg.MC - 1) / cfg.MC, mcMax = RoundUp((m + mBlocks - 1) / mBlocks, mr);
        int ncMax = Math.Min(cfg.NC, RoundUp(n, nr)), nRound = bRound > 0 ? bRound : RoundUp(n, nr);
        float* ap = aPacked != null ? null : PackBuffers.A((long)mcMax * kcMax);
        float* bp = bPacked != null ? null : PackBuffers.B((long)ncMax * kcMax);
        float* tile = stackalloc float[mr * nr + 16];
        tile = (float*)(((nint)tile + 63) & ~(nint)63);

        for (int pc = 0; pc < k; pc += kcMax)
        {
            int kc = Math.Min(kcMax, k - pc);
            int mode = Mode(pc, beta, bias);
            for (int ic = 0; ic < m; ic += mcMax)
            {
                int mc = Math.Min(mcMax, m - ic);
                if (aPacked != null) ap = aPacked + (long)pc * mcMax;
                else GemmPacking.PackA(transA, a, lda, ic, pc, mc, kc, mr, alpha, ap);
                for (int jc = 0; jc < n; jc += ncMax)
                {
                    int nc = Math.Min(ncMax, n - jc);
                    if (bPacked != null) bp = bPacked + (long)pc * nRound + (long)(bCol + jc) * kc;
                    else GemmPacking.PackB(transB, b, ldb, pc, jc, kc, nc, nr, bp);
                    for (int ir = 0; ir < mc; ir += mr)
                    {
                        int mh = Math.Min(mr, mc - ir);
                        float* asl = ap + (long)ir * kc;
                        float* crow = c + (long)(ic + ir) * ldc + jc;
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            int nw = Math.Min(nr, nc - jr);
                            float* bs = bp + (long)jr * kc;
                            float* cs = crow + jr;
                            float* bv = bias == null ? null : bias + jc + jr;
                            if (mh == mr && nw == nr) kernel(kc, asl, bs, cs, ldc, beta, mode, bv);
                            else EdgeTile(cfg, kc, asl, bs, cs, ldc, mh, nw, beta, mode, bv, tile);
                        }
                    }
                }
            }
        }
    }

    /// <summary>GotoBLAS order: a KC×NR sliver of B stays in L1 while the MC×KC block of A (in L2) streams past it.</summary>
    private static void BlockedGoto(Config cfg, bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, float* bias)
    {
        int mr = cfg.MR, nr = cfg.NR;
        var kernel = cfg.Kernel;
        int kcMax = DepthSlice(cfg, k);
        int mcMax = Math.Min(cfg.MC, RoundUp(m, mr));
        int ncMax = Math.Min(cfg.NC, RoundUp(n, nr));
        float* ap = PackBuffers.A((long)mcMax * kcMax);
        float* bp = PackBuffers.B((long)ncMax * kcMax);
        float* tile = stackalloc float[mr * nr + 16];
        tile = (float*)(((nint)tile + 63) & ~(nint)63);

        for (int jc = 0; jc < n; jc += ncMax)
        {
            int nc = Math.Min(ncMax, n - jc);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                int mode = Mode(pc, beta, bias);
                GemmPacking.PackB(transB, b, ldb, pc, jc, kc, nc, nr, bp);
                for (int ic = 0; ic < m; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, m - ic);
                    GemmPacking.PackA(transA, a, lda, ic, pc, mc, kc, mr, alpha, ap);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int nw = Math.Min(nr, nc - jr);
                        float* bs = bp + (long)jr * kc;
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int mh = Math.Min(mr, mc - ir);
                            float* cs = c + (long)(ic + ir) * ldc + jc + jr;
                            float* asl = ap + (long)ir * kc;
                            float* bv = bias == null ? null : bias + jc + jr;
                            if (mh == mr && nw == nr) kernel(kc, asl, bs, cs, ldc, beta, mode, bv);
                            else EdgeTile(cfg, kc, asl, bs, cs, ldc, mh, nw, beta, mode, bv, tile);
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// One tile at the bottom or right edge of C: <paramref name="rows"/> ≤ MR real rows, <paramref name="cols"/> ≤ NR real
    /// columns. The narrowest kernel that holds the columns runs (a 16-column remainder of a 48-wide sliver costs a third of
    /// a full tile, not a full one) and stores straight into C where its tile is exactly the real one, else into
    /// <paramref name="tile"/> (MR × NR), whose real part is merged into C. Every element is summed as a full tile sums it.
    /// </summary>
    private static void EdgeTile(Config cfg, int kc, float* a, float* b, float* c, int ldc, int rows, int cols, float beta, int mode,
        float* bias, float* tile)
    {
        var (k, width) = cfg.ForColumns(cols);
        var kernel = (delegate*<int, float*, float*, float*, int, float, int, float*, void>)k;
        if (rows == cfg.MR && cols == width) { kernel(kc, a, b, c, ldc, beta, mode, bias); return; }
        kernel(kc, a, b, tile, cfg.NR, 0f, 0, null);
        MergeTile(tile, cfg.NR, c, ldc, rows, cols, beta, mode, bias);
    }

    private static void MergeTile(float* tile, int ldt, float* c, int ldc, int rows, int cols, float beta, int mode, float* bias)
    {
        for (int r = 0; r < rows; r++)
        {
            float* t = tile + r * ldt, d = c + (long)r * ldc;
            switch (mode)
            {
                case 0: for (int j = 0; j < cols; j++) d[j] = t[j]; break;
                case 1: for (int j = 0; j < cols; j++) d[j] += t[j]; break;
                case 3: for (int j = 0; j < cols; j++) d[j] = t[j] + bias[j]; break;
                default: for (int j = 0; j < cols; j++) d[j] = beta * d[j] + t[j]; break;
            }
        }
    }

    private static int RoundUp(int x, int to) => (x + to - 1) / to * to;

    // ---- direct path for small or skinny products ----------------------------------------------------

    /// <summary>Unpacked product at the SIMD width in force; at width 0 the scalar reference (no vectors at all).</summary>
    private static void Direct(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        switch (SimdPath.Bits)
        {
            case 512: Direct<V512>(true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
            case 256: Direct<V256>(true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
            case 128: Direct<V128>(true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
            default: Direct<V128>(false, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
        }
    }

    private static void Direct<V>(bool simd, bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc) where V : unmanaged, IVec<V>
    {
        for (int i = 0; i < m; i++)
        {
            float* crow = c + (long)i * ldc;
            if (!transB)
            {
                if (beta == 0f) new Span<float>(crow, n).Clear();
                else if (beta != 1f) for (int j = 0; j < n; j++) crow[j] *= beta;
                for (int p = 0; p < k; p++)
                {
                    float av = alpha * (transA ? a[(long)p * lda + i] : a[(long)i * lda + p]);
                    Axpy<V>(simd, av, b + (long)p * ldb, crow, n);
                }
            }
            else
            {
                for (int j = 0; j < n; j++)
                {
                    float* brow = b + (long)j * ldb;
                    float s;
                    if (!transA) s = Dot<V>(simd, a + (long)i * lda, brow, k);
                    else { s = 0f; for (int p = 0; p < k; p++) s += a[(long)p * lda + i] * brow[p]; }
                    crow[j] = beta == 0f ? alpha * s : alpha * s + beta * crow[j];
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V Mad<V>(V a, V b, V c) where V : unmanaged, IVec<V> => GemmKernels.HasFma ? V.Fma(a, b, c) : a * b + c;

    /// <summary>y += alpha·x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy<V>(bool simd, float alpha, float* x, float* y, int n) where V : unmanaged, IVec<V>
    {
        int j = 0;
        if (simd)
        {
            var va = V.Create(alpha);
            for (; j <= n - V.Count; j += V.Count) Mad(va, V.Load(x + j), V.Load(y + j)).Store(y + j);
        }
        for (; j < n; j++) y[j] += alpha * x[j];
    }

    /// <summary>Σ x·y, two vector accumulators (the dot products here are short: k of a skinny product).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot<V>(bool simd, float* x, float* y, int n) where V : unmanaged, IVec<V>
    {
        int j = 0;
        float s = 0f;
        if (simd && n >= V.Count)
        {
            V s0 = V.Zero, s1 = V.Zero;
            for (; j <= n - 2 * V.Count; j += 2 * V.Count)
            {
                s0 = Mad(V.Load(x + j), V.Load(y + j), s0);
                s1 = Mad(V.Load(x + j + V.Count), V.Load(y + j + V.Count), s1);
            }
            if (j <= n - V.Count) { s0 = Mad(V.Load(x + j), V.Load(y + j), s0); j += V.Count; }
            s = V.Sum(s0 + s1);
        }
        for (; j < n; j++) s += x[j] * y[j];
        return s;
    }
}
