namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Register-tiled micro-kernels for attention's block products, generic over the vector width:
/// C [4, n·V.Count] (+)= A [4, count] · B [count, n·V.Count] for n = 4, 3, 2 or 1 vectors. Element (i, e) of A is
/// a[i·ai + e·ae], so one kernel serves A (ai = row stride, ae = 1) and Aᵀ (ai = 1, ae = row stride); row e of B
/// starts at b + e·ldb and row i of C at c + i·ldc. With <c>load</c> the tile starts from C (accumulate), else from 0.
/// <para>The accumulators must stay in registers: a 4×n tile needs 4n accumulators, n B vectors and a broadcast.
/// 4×4 (21 registers) fits AVX-512's 32; AVX2 and SSE have 16, where 4×3 (exactly 16) is the widest that fits
/// (measured on AVX2: 4×3 runs at ~93% of the FMA peak, 4×2 at ~83%; a 4×3 that reads B from memory instead spills).
/// ARM64 has 32 registers but takes the 16-register tiles (not measured there).</para>
/// </summary>
internal static unsafe class AttentionTiles
{
    /// <summary>Vectors across the widest tile that fits the width's register file.</summary>
    public static int MaxVectors<V>() where V : unmanaged, IVec<V> => V.Count == 16 ? 4 : 3;

    /// <summary>The 4×n tile for n = 1…4 (see the class summary for the arguments).</summary>
    public static void Tile<V>(int n, float* a, nint ai, nint ae, float* b, nint ldb, int count, float* c, nint ldc, bool load)
        where V : unmanaged, IVec<V>
    {
        switch (n)
        {
            case 4: Tile4x4<V>(a, ai, ae, b, ldb, count, c, ldc, load); break;
            case 3: Tile4x3<V>(a, ai, ae, b, ldb, count, c, ldc, load); break;
            case 2: Tile4x2<V>(a, ai, ae, b, ldb, count, c, ldc, load); break;
            default: Tile4x1<V>(a, ai, ae, b, ldb, count, c, ldc, load); break;
        }
    }

    public static void Tile4x4<V>(float* a, nint ai, nint ae, float* b, nint ldb, int count, float* c, nint ldc, bool load)
        where V : unmanaged, IVec<V>
    {
        int w = V.Count;
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        V c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33;
        if (load)
        {
            c00 = V.Load(c); c01 = V.Load(c + w); c02 = V.Load(c + 2 * w); c03 = V.Load(c + 3 * w);
            c10 = V.Load(c1); c11 = V.Load(c1 + w); c12 = V.Load(c1 + 2 * w); c13 = V.Load(c1 + 3 * w);
            c20 = V.Load(c2); c21 = V.Load(c2 + w); c22 = V.Load(c2 + 2 * w); c23 = V.Load(c2 + 3 * w);
            c30 = V.Load(c3); c31 = V.Load(c3 + w); c32 = V.Load(c3 + 2 * w); c33 = V.Load(c3 + 3 * w);
        }
        else
        {
            c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = V.Zero;
            c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = V.Zero;
        }
        nint ai2 = 2 * ai, ai3 = 3 * ai;
        for (int e = 0; e < count; e++, a += ae, b += ldb)
        {
            var b0 = V.Load(b); var b1 = V.Load(b + w); var b2 = V.Load(b + 2 * w); var b3 = V.Load(b + 3 * w);
            var x = V.Create(a[0]);
            V.FmaTo(ref c00, x, b0); V.FmaTo(ref c01, x, b1); V.FmaTo(ref c02, x, b2); V.FmaTo(ref c03, x, b3);
            x = V.Create(a[ai]);
            V.FmaTo(ref c10, x, b0); V.FmaTo(ref c11, x, b1); V.FmaTo(ref c12, x, b2); V.FmaTo(ref c13, x, b3);
            x = V.Create(a[ai2]);
            V.FmaTo(ref c20, x, b0); V.FmaTo(ref c21, x, b1); V.FmaTo(ref c22, x, b2); V.FmaTo(ref c23, x, b3);
            x = V.Create(a[ai3]);
            V.FmaTo(ref c30, x, b0); V.FmaTo(ref c31, x, b1); V.FmaTo(ref c32, x, b2); V.FmaTo(ref c33, x, b3);
        }
        c00.Store(c); c01.Store(c + w); c02.Store(c + 2 * w); c03.Store(c + 3 * w);
        c10.Store(c1); c11.Store(c1 + w); c12.Store(c1 + 2 * w); c13.Store(c1 + 3 * w);
        c20.Store(c2); c21.Store(c2 + w); c22.Store(c2 + 2 * w); c23.Store(c2 + 3 * w);
        c30.Store(c3); c31.Store(c3 + w); c32.Store(c3 + 2 * w); c33.Store(c3 + 3 * w);
    }

    public static void Tile4x3<V>(float* a, nint ai, nint ae, float* b, nint ldb, int count, float* c, nint ldc, bool load)
        where V : unmanaged, IVec<V>
    {
        int w = V.Count;
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        V c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
        if (load)
        {
            c00 = V.Load(c); c01 = V.Load(c + w); c02 = V.Load(c + 2 * w);
            c10 = V.Load(c1); c11 = V.Load(c1 + w); c12 = V.Load(c1 + 2 * w);
            c20 = V.Load(c2); c21 = V.Load(c2 + w); c22 = V.Load(c2 + 2 * w);
            c30 = V.Load(c3); c31 = V.Load(c3 + w); c32 = V.Load(c3 + 2 * w);
        }
        else c00 = c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = c30 = c31 = c32 = V.Zero;
        nint ai2 = 2 * ai, ai3 = 3 * ai;
        for (int e = 0; e < count; e++, a += ae, b += ldb)
        {
            var b0 = V.Load(b); var b1 = V.Load(b + w); var b2 = V.Load(b + 2 * w);
            var x = V.Create(a[0]);
            V.FmaTo(ref c00, x, b0); V.FmaTo(ref c01, x, b1); V.FmaTo(ref c02, x, b2);
            x = V.Create(a[ai]);
            V.FmaTo(ref c10, x, b0); V.FmaTo(ref c11, x, b1); V.FmaTo(ref c12, x, b2);
            x = V.Create(a[ai2]);
            V.FmaTo(ref c20, x, b0); V.FmaTo(ref c21, x, b1); V.FmaTo(ref c22, x, b2);
            x = V.Create(a[ai3]);
            V.FmaTo(ref c30, x, b0); V.FmaTo(ref c31, x, b1); V.FmaTo(ref c32, x, b2);
        }
        c00.Store(c); c01.Store(c + w); c02.Store(c + 2 * w);
        c10.Store(c1); c11.Store(c1 + w); c12.Store(c1 + 2 * w);
        c20.Store(c2); c21.Store(c2 + w); c22.Store(c2 + 2 * w);
        c30.Store(c3); c31.Store(c3 + w); c32.Store(c3 + 2 * w);
    }

    public static void Tile4x2<V>(float* a, nint ai, nint ae, float* b, nint ldb, int count, float* c, nint ldc, bool load)
        where V : unmanaged, IVec<V>
    {
        int w = V.Count;
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        V c00, c01, c10, c11, c20, c21, c30, c31;
        if (load)
        {
            c00 = V.Load(c); c01 = V.Load(c + w);
            c10 = V.Load(c1); c11 = V.Load(c1 + w);
            c20 = V.Load(c2); c21 = V.Load(c2 + w);
            c30 = V.Load(c3); c31 = V.Load(c3 + w);
        }
        else c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = V.Zero;
        nint ai2 = 2 * ai, ai3 = 3 * ai;
        for (int e = 0; e < count; e++, a += ae, b += ldb)
        {
            var b0 = V.Load(b); var b1 = V.Load(b + w);
            var x = V.Create(a[0]);
            V.FmaTo(ref c00, x, b0); V.FmaTo(ref c01, x, b1);
            x = V.Create(a[ai]);
            V.FmaTo(ref c10, x, b0); V.FmaTo(ref c11, x, b1);
            x = V.Create(a[ai2]);
            V.FmaTo(ref c20, x, b0); V.FmaTo(ref c21, x, b1);
            x = V.Create(a[ai3]);
            V.FmaTo(ref c30, x, b0); V.FmaTo(ref c31, x, b1);
        }
        c00.Store(c); c01.Store(c + w);
        c10.Store(c1); c11.Store(c1 + w);
        c20.Store(c2); c21.Store(c2 + w);
        c30.Store(c3); c31.Store(c3 + w);
    }

    public static void Tile4x1<V>(float* a, nint ai, nint ae, float* b, nint ldb, int count, float* c, nint ldc, bool load)
        where V : unmanaged, IVec<V>
    {
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        V c0, c1v, c2v, c3v;
        if (load) { c0 = V.Load(c); c1v = V.Load(c1); c2v = V.Load(c2); c3v = V.Load(c3); }
        else c0 = c1v = c2v = c3v = V.Zero;
        nint ai2 = 2 * ai, ai3 = 3 * ai;
        for (int e = 0; e < count; e++, a += ae, b += ldb)
        {
            var b0 = V.Load(b);
            V.FmaTo(ref c0, V.Create(a[0]), b0);
            V.FmaTo(ref c1v, V.Create(a[ai]), b0);
            V.FmaTo(ref c2v, V.Create(a[ai2]), b0);
            V.FmaTo(ref c3v, V.Create(a[ai3]), b0);
        }
        c0.Store(c); c1v.Store(c1); c2v.Store(c2); c3v.Store(c3);
    }
}
