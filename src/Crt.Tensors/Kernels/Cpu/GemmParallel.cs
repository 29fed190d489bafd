namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// The multi-threaded packed product. op(B) is packed once into a shared buffer, block by block on
/// demand (the first thread to need a KC×NC block packs it, a thread that finds it being packed
/// waits), and the rows of C are handed out in small units from a shared counter, so a thread that is
/// descheduled (the machine is shared) does not hold up the others for a fixed half of the work.
/// </summary>
public static unsafe partial class Gemm
{
    /// <summary>Floats of packed B one parallel pass may hold; wider products take several passes over column chunks.</summary>
    internal static long SharedBLimit = DefaultSharedBLimit;
    internal const long DefaultSharedBLimit = 6L << 20;

    /// <summary>State of one parallel pass: the packed-B buffer, per-block ready flags, the unit counter.</summary>
    private sealed class SharedPass
    {
        public float[] Buffer = Array.Empty<float>();
        public int[] State = Array.Empty<int>();
        public int Next;
    }

    private static SharedPass? s_spare; // one pass object kept for reuse (concurrent callers make their own)

    private static void ParallelBlocked(Config cfg, int threads, bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, float* bias)
    {
        int mr = cfg.MR, nr = cfg.NR;
        int kBlocks = (k + cfg.KC - 1) / cfg.KC, kcMax = DepthSlice(cfg, k);
        // Column blocks of even width, at least one per thread (while each keeps 4+ slivers): the first thread to
        // need a depth slice's blocks packs one and the others pack the rest meanwhile, instead of waiting.
        int nBlocks = Math.Max((n + cfg.NC - 1) / cfg.NC, Math.Min(threads, n / (4 * nr)));
        int ncMax = Math.Min(cfg.NC, RoundUp((n + nBlocks - 1) / Math.Max(1, nBlocks), nr));

        // Column chunks bound the shared buffer; each is one parallel pass.
        long perCol = (long)kBlocks * kcMax;
        int chunkCols = (int)Math.Max(ncMax, Math.Min(RoundUp(n, ncMax), SharedBLimit / perCol / ncMax * ncMax));

        var (rowUnits, unitRows) = RowUnits(m, mr, cfg.MC, threads);

        var pass = Interlocked.Exchange(ref s_spare, null) ?? new SharedPass();
        try
        {
            for (int j0 = 0; j0 < n; j0 += chunkCols)
            {
                int nChunk = Math.Min(chunkCols, n - j0);
                int nJ = (nChunk + ncMax - 1) / ncMax;
                // With few row units, also split the column blocks between units.
                int colGroups = rowUnits >= 2 * threads ? 1 : Math.Min(nJ, (2 * threads + rowUnits - 1) / rowUnits);
                int units = rowUnits * colGroups;
                long need = (long)kBlocks * nJ * kcMax * ncMax + 16;
                if (pass.Buffer.Length < need) pass.Buffer = GC.AllocateUninitializedArray<float>((int)need, pinned: true);
                if (pass.State.Length < kBlocks * nJ) pass.State = new int[kBlocks * nJ];
                Array.Clear(pass.State, 0, kBlocks * nJ);
                pass.Next = 0;
                fixed (float* buf0 = pass.Buffer)
                {
                    nint bufBase = ((nint)buf0 + 63) & ~(nint)63;
                    nint pa = (nint)a, pb = (nint)b, pc = (nint)c, pbias = (nint)bias;
                    int jBase = j0;
                    int workers = Math.Min(threads, units);
                    Par.For(workers, long.MaxValue / 2 / Math.Max(1, workers), _ =>
                        Worker(cfg, pass, (float*)bufBase, transA, transB, m, nChunk, k, alpha, (float*)pa, lda,
                            (float*)pb, ldb, jBase, beta, (float*)pc, ldc, pbias == 0 ? null : (float*)pbias + jBase, kcMax, ncMax, kBlocks, nJ, unitRows, colGroups, units));
                }
            }
        }
        finally { s_spare = pass; }
    }

    private static void Worker(Config cfg, SharedPass pass, float* bShared, bool transA, bool transB, int m, int nChunk, int k,
        float alpha, float* a, int lda, float* b, int ldb, int j0, float beta, float* c, int ldc, float* bias,
        int kcMax, int ncMax, int kBlocks, int nJ, int unitRows, int colGroups, int units)
    {
        int mr = cfg.MR, nr = cfg.NR;
        var kernel = cfg.Kernel;
        float* ap = PackBuffers.A((long)unitRows * kcMax);
        float* tile = stackalloc float[mr * nr + 16];
        tile = (float*)(((nint)tile + 63) & ~(nint)63);
        int jPerGroup = (nJ + colGroups - 1) / colGroups;
        long blockFloats = (long)kcMax * ncMax;

        int u;
        while ((u = Interlocked.Increment(ref pass.Next) - 1) < units)
        {
            int rb = u / colGroups, cg = u % colGroups;
            var (ic, mc) = UnitRows(rb, units / colGroups, m, mr);
            int jb0 = cg * jPerGroup, jb1 = Math.Min(nJ, jb0 + jPerGroup);
            if (mc <= 0 || jb0 >= jb1) continue;
            for (int pi = 0; pi < kBlocks; pi++)
            {
                int pc = pi * kcMax, kc = Math.Min(kcMax, k - pc);
                int mode = Mode(pc, beta, bias);
                GemmPacking.PackA(transA, a, lda, ic, pc, mc, kc, mr, alpha, ap);
                for (int ji = jb0; ji < jb1; ji++)
                {
                    int jc = ji * ncMax, nc = Math.Min(ncMax, nChunk - jc);
                    float* bp = bShared + (pi * nJ + ji) * blockFloats;
                    EnsurePacked(pass.State, pi, ji, nJ, transB, b, ldb, pc, j0, kc, nChunk, ncMax, nr, bShared, blockFloats);
                    for (int ir = 0; ir < mc; ir += mr)
                    {
                        int mh = Math.Min(mr, mc - ir);
                        float* asl = ap + (long)ir * kc;
                        float* crow = c + (long)(ic + ir) * ldc + j0 + jc;
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            int nw = Math.Min(nr, nc - jr);
                            float* bs = bp + (long)jr * kc;
                            float* bv = bias == null ? null : bias + jc + jr;
                            if (mh == mr && nw == nr) kernel(kc, asl, bs, crow + jr, ldc, beta, mode, bv);
                            else EdgeTile(cfg, kc, asl, bs, crow + jr, ldc, mh, nw, beta, mode, bv, tile);
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// How the rows of C are cut into units for <see cref="ParallelBlocked"/>: two units per thread, so a thread that falls
    /// behind hands over half its share, while each unit stays tall enough (about 8 slivers) to reuse every B block it streams
    /// from L3 over many A slivers; more where a unit would exceed MC rows. The count is a multiple of the thread count and
    /// the slivers are spread evenly over the units (<see cref="UnitRows"/>), so the threads finish together: 200 rows in
    /// units of 64 (64, 64, 64, 8) gave one of two threads 128 rows and the other 72, idle for over a third of each
    /// product, in every decode step of sampling (100 images with guidance: 200 rows).
    /// </summary>
    /// <returns>The number of row units and the most rows any one holds.</returns>
    internal static (int Units, int MaxRows) RowUnits(int m, int mr, int mc, int threads)
    {
        int slivers = (m + mr - 1) / mr;
        int units = Math.Min(2 * threads, Math.Max(1, slivers / 8));
        units = Math.Max(units, (slivers + Math.Max(1, mc / mr) - 1) / Math.Max(1, mc / mr));
        if (units > 1) units = Math.Min(slivers, RoundUp(units, threads));
        return (units, (slivers + units - 1) / units * mr);
    }

    /// <summary>The first row and the row count of row unit <paramref name="unit"/> of <paramref name="units"/>: whole slivers, spread evenly.</summary>
    internal static (int First, int Rows) UnitRows(int unit, int units, int m, int mr)
    {
        long slivers = (m + mr - 1) / mr;
        int first = (int)(unit * slivers / units) * mr, end = (int)Math.Min(m, (unit + 1) * slivers / units * mr);
        return (first, end - first);
    }

    /// <summary>
    /// Makes B block (pi, ji) ready. States: 0 not packed, 1 being packed, 2 ready. The first thread to
    /// arrive packs it; a thread that finds it being packed packs later blocks of the same depth slice
    /// meanwhile, and only then waits.
    /// </summary>
    private static void EnsurePacked(int[] state, int pi, int ji, int nJ, bool transB, float* b, int ldb, int pc, int j0,
        int kc, int nChunk, int ncMax, int nr, float* bShared, long blockFloats)
    {
        int idx = pi * nJ + ji;
        if (Volatile.Read(ref state[idx]) == 2) return;
        for (int jj = ji; jj < nJ; jj++)
        {
            int id = pi * nJ + jj;
            if (Volatile.Read(ref state[id]) != 0 || Interlocked.CompareExchange(ref state[id], 1, 0) != 0) continue;
            int jc = jj * ncMax;
            GemmPacking.PackB(transB, b, ldb, pc, j0 + jc, kc, Math.Min(ncMax, nChunk - jc), nr, bShared + id * blockFloats);
            Volatile.Write(ref state[id], 2);
            if (Volatile.Read(ref state[idx]) == 2) return;
        }
        var spin = new SpinWait();
        while (Volatile.Read(ref state[idx]) != 2) spin.SpinOnce(sleep1Threshold: -1); // never Sleep(1): a block takes microseconds to pack
    }
}
