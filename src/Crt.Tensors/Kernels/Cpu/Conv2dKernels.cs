using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Geometry of one 2-D convolution (NCHW, weight [Cout, Cin, Kh, Kw], zero padding; bottom/right
/// padding only shows in Ho/Wo). K = Cin·Kh·Kw is the GEMM reduction size, P = Ho·Wo the pixels per image.
/// </summary>
public readonly record struct ConvGeom(int N, int Cin, int H, int W, int Cout, int Kh, int Kw,
    int Stride, int PadTop, int PadLeft, int Ho, int Wo)
{
    public int K => Cin * Kh * Kw;
    public int P => Ho * Wo;

    /// <summary>1×1, stride 1, no padding: the image itself is the im2col matrix [Cin, H·W].</summary>
    public bool IsPointwise => Kh == 1 && Kw == 1 && Stride == 1 && PadTop == 0 && PadLeft == 0 && Ho == H && Wo == W;

    public static ConvGeom Create(int n, int cin, int h, int w, int cout, int kh, int kw, int stride,
        int padTop, int padBottom, int padLeft, int padRight)
        => new(n, cin, h, w, cout, kh, kw, stride, padTop, padLeft,
            (h + padTop + padBottom - kh) / stride + 1, (w + padLeft + padRight - kw) / stride + 1);
}

/// <summary>
/// Convolution lowered onto <see cref="Gemm.Sgemm"/>: per image, y [Cout, P] = W [Cout, K] · col [K, P]
/// where col is the im2col matrix, built for a band of output rows at a time (a whole image unless it is
/// large) in per-thread scratch. 1×1 stride-1 unpadded convolutions skip im2col (x itself is col).
/// Backward: dWᵀ += col · gyᵀ, dcol = Wᵀ · gy scattered back by col2im, db = row sums of gy.
/// Work is split over images (forward: over image bands) with one serial GEMM per band and per-thread
/// dW/db partials; then the weights (forward) and the dx GEMM's weights are packed once per call
/// (<see cref="Gemm.Pack"/>), and with packed weights im2col writes straight into the layout the GEMM would pack B
/// into (<see cref="Im2ColPacked"/>); for dW, products on one thread get im2col straight in the packed-A layout
/// (<see cref="Im2ColPackedA"/>). At stride 1, dx is itself a convolution (of gy with the flipped weights), so no col2im.
/// With too few images the GEMMs split across the cores instead. Every SIMD width has its own copy loops
/// (<see cref="SimdPath.Bits"/>; 0 is the scalar reference).
/// </summary>
public static unsafe partial class Conv2dKernels
{
    /// <summary>
    /// Target size (floats) of one im2col band; a band is at least one output row. Large (4 MB: whole images
    /// up to 64×32×32 with a 3×3 kernel): where the GEMMs split across the cores each call re-packs the weights,
    /// which cost more than the col matrix spilling from L2 to L3 (measured on Zen 5); where the weights are packed
    /// once, 256 KB bands timed the same as whole images, and whole images keep the GEMM's n a multiple of NR.
    /// </summary>
    public static int ColBandFloats { get; set; } = 1 << 20;

    [ThreadStatic] private static float[]? _scratch, _scratch2, _packedW, _padded;

    private static float[] Scratch(int n) => Scratch(ref _scratch, n);

    private static float[] Scratch(ref float[]? s, int n)
    {
        if (s is null || s.Length < n) s = GC.AllocateUninitializedArray<float>(n, pinned: true);
        return s;
    }

    /// <summary>Image chunks per core in the backward pass (each holds a dW partial).</summary>
    public static int ChunksPerThread { get; set; } = 2;

    private static int BandRows(in ConvGeom g) => Math.Clamp(ColBandFloats / Math.Max(1, g.K * g.Wo), 1, Math.Max(1, g.Ho));

    // ---- forward ------------------------------------------------------------------------------------

    /// <param name="bias">Empty for no bias.</param>
    public static void Forward(in ConvGeom g, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y)
    {
        Check(g, x.Length, w.Length, y.Length);
        if (!bias.IsEmpty && bias.Length != g.Cout) throw new ArgumentException($"conv2d kernel: bias length {bias.Length} != Cout {g.Cout}");
        if (y.IsEmpty) return;
        var geom = g;
        int bandRows = geom.IsPointwise ? geom.Ho : BandRows(geom);
        int bands = (geom.Ho + bandRows - 1) / bandRows;
        long workPerItem = 2L * geom.Cout * geom.K * bandRows * geom.Wo;
        bool hasBias = !bias.IsEmpty;
        fixed (float* px = x, pw = w, pb = bias, py = y)
        {
            nint X = (nint)px, Wt = (nint)pw, B = (nint)pb, Y = (nint)py;
            int items = geom.N * bands;
            // Enough (image, band) items for every core: one serial GEMM each. Otherwise (e.g. one image of
            // one band) run them in turn and let each GEMM split across the cores itself.
            bool itemParallel = items >= 2 * Par.Threads;
            // Serial GEMMs: the weights are packed once here for all of them.
            var packedW = itemParallel ? Gemm.Pack(false, geom.Cout, geom.K, 1f, (float*)Wt, geom.K, ref _packedW) : null;
            void Item(int item, bool par)
            {
                int n = item / bands, band = item % bands;
                int oh0 = band * bandRows, oh1 = Math.Min(geom.Ho, oh0 + bandRows);
                ForwardBand(geom, (float*)X + (long)n * geom.Cin * geom.H * geom.W, (float*)Wt, packedW,
                    hasBias ? (float*)B : null, (float*)Y + (long)n * geom.Cout * geom.P, oh0, oh1, par);
            }
            if (itemParallel) Par.For(items, workPerItem, item => Item(item, false));
            else for (int item = 0; item < items; item++) Item(item, true);
            GC.KeepAlive(packedW);
        }
    }

    private static void ForwardBand(in ConvGeom g, float* x, float* w, Gemm.PackedA? pw, float* bias, float* y, int oh0, int oh1, bool par)
    {
        int P = g.P, K = g.K, pc = (oh1 - oh0) * g.Wo;
        float* yb = y + oh0 * g.Wo;
        if (g.IsPointwise)
        {
            if (pw != null) Gemm.SgemmPacked(pw, false, pc, x + oh0 * g.Wo, P, 0f, yb, P);
            else Mm(false, false, g.Cout, pc, K, w, K, x + oh0 * g.Wo, P, 0f, yb, P, par);
        }
        else if (pw != null)
        {
            var layout = Gemm.LayoutB(pw, pc);
            fixed (float* scratch = Scratch(PackedFloats(layout)))
            {
                float* col = Align64(scratch);
                Im2ColPacked(g, x, oh0, oh1, layout, col);
                Gemm.SgemmPacked(pw, pc, col, 0f, yb, P);
            }
        }
        else
        {
            fixed (float* col = Scratch(K * pc))
            {
                Im2Col(g, x, oh0, oh1, col);
                Mm(false, false, g.Cout, pc, K, w, K, col, pc, 0f, yb, P, par);
            }
        }
        if (bias != null)
            for (int co = 0; co < g.Cout; co++)
            {
                var row = new Span<float>(yb + (long)co * P, pc);
                TensorPrimitives.Add(row, bias[co], row);
            }
    }

    // ---- backward -----------------------------------------------------------------------------------

    /// <summary>
    /// Gradients of the convolution for upstream gradient gy [N, Cout, Ho, Wo]. Each of dx [N, Cin, H, W],
    /// dw [Cout, Cin, Kh, Kw], db [Cout] may be empty (not wanted); the ones given are overwritten.
    /// </summary>
    public static void Backward(in ConvGeom g, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> gy,
        Span<float> dx, Span<float> dw, Span<float> db)
    {
        Check(g, x.Length, w.Length, gy.Length);
        bool wantX = !dx.IsEmpty, wantW = !dw.IsEmpty, wantB = !db.IsEmpty;
        if (wantX && dx.Length != x.Length) throw new ArgumentException($"conv2d kernel: dx length {dx.Length} != x length {x.Length}");
        if (wantW && dw.Length != w.Length) throw new ArgumentException($"conv2d kernel: dw length {dw.Length} != w length {w.Length}");
        if (wantB && db.Length != g.Cout) throw new ArgumentException($"conv2d kernel: db length {db.Length} != Cout {g.Cout}");
        if (wantW) dw.Clear();
        if (wantB) db.Clear();
        if (g.N == 0 || g.P == 0) { dx.Clear(); return; }
        if (!wantX && !wantW && !wantB) return;

        var geom = g;
        int wSize = geom.Cout * geom.K;
        long perImage = 2L * geom.Cout * geom.K * geom.P * ((wantX ? 1 : 0) + (wantW ? 1 : 0)) + geom.Cout * geom.P;
        // A few chunks per core, scheduled dynamically (a busy core does not hold the step back); each chunk
        // of images accumulates dWᵀ [K, Cout] (the faster GEMM orientation: col · gyᵀ) and db into its own
        // buffer, reduced in a fixed order (and dWᵀ transposed) at the end, so results are deterministic.
        bool parallel = Par.Threads > 1 && geom.N > 1 && geom.N * perImage >= Par.MinParallelWork;
        int chunks = 1;
        if (parallel && wantW) // cap the dW partials at ~32 MB, but keep one per core
            chunks = Math.Min(geom.N, Math.Max(Par.Threads, Math.Min(ChunksPerThread * Par.Threads, (8 << 20) / Math.Max(1, wSize))));
        else if (parallel) chunks = Math.Min(geom.N, ChunksPerThread * Par.Threads);
        var partW = new float[]?[chunks];
        var partB = new float[]?[chunks];
        for (int c = 0; c < chunks; c++)
        {
            if (wantW) { partW[c] = ArrayPool<float>.Shared.Rent(wSize); Array.Clear(partW[c]!, 0, wSize); }
            if (wantB && c > 0) partB[c] = new float[geom.Cout]; // chunk 0 sums into db itself
        }
        fixed (float* px = x, pw = w, pgy = gy, pdx = dx, pdb = db)
        {
            nint X = (nint)px, Wt = (nint)pw, GY = (nint)pgy, DX = (nint)pdx, DB = (nint)pdb;
            var dxPlan = wantX && !geom.IsPointwise ? DxPlan.Make(geom, pw, packed: chunks > 1) : default;
            // With several chunks, each image's dx is an item of its own after the chunks' dW and db sums: the
            // chunks hold a fixed set of images each (for deterministic partials) and are few, so ending on small
            // items keeps the cores busy to the end. A lone chunk does everything and lets the GEMMs use the cores.
            int sumItems = wantW || wantB || chunks == 1 ? chunks : 0;
            int items = sumItems + (wantX && chunks > 1 ? geom.N : 0);
            Par.For(items, long.MaxValue / 4 / Math.Max(1, items), item =>
            {
                if (item >= sumItems)
                {
                    int m = item - sumItems;
                    BackwardImage(geom, (float*)X + (long)m * geom.Cin * geom.H * geom.W, (float*)Wt, (float*)GY + (long)m * geom.Cout * geom.P,
                        (float*)DX + (long)m * geom.Cin * geom.H * geom.W, null, null, dxPlan, par: false);
                    return;
                }
                int c = item, n0 = (int)((long)geom.N * c / chunks), n1 = (int)((long)geom.N * (c + 1) / chunks);
                float[]? bw = partW[c], bb = partB[c];
                fixed (float* cw = bw, cb = bb)
                {
                    float* accB = wantB ? (c == 0 ? (float*)DB : cb) : null;
                    for (int n = n0; n < n1; n++)
                        BackwardImage(geom, (float*)X + (long)n * geom.Cin * geom.H * geom.W, (float*)Wt,
                            (float*)GY + (long)n * geom.Cout * geom.P,
                            wantX && chunks == 1 ? (float*)DX + (long)n * geom.Cin * geom.H * geom.W : null, wantW ? cw : null, accB, dxPlan,
                            par: chunks == 1);
                }
            });
            dxPlan.Release();
        }
        if (wantW)
        {
            var acc = partW[0]!.AsSpan(0, wSize);
            for (int c = 1; c < chunks; c++) TensorPrimitives.Add(acc, partW[c]!.AsSpan(0, wSize), acc);
            Transpose(acc, geom.K, geom.Cout, dw);
            foreach (var pwb in partW) ArrayPool<float>.Shared.Return(pwb!);
        }
        if (wantB)
            for (int c = 1; c < chunks; c++) TensorPrimitives.Add(db, partB[c], db);
    }

    /// <summary>dst [cols, rows] = srcᵀ for src [rows, cols].</summary>
    private static void Transpose(ReadOnlySpan<float> src, int rows, int cols, Span<float> dst)
    {
        for (int r0 = 0; r0 < rows; r0 += 32)
            for (int c0 = 0; c0 < cols; c0 += 32)
                for (int r = r0, r1 = Math.Min(rows, r0 + 32); r < r1; r++)
                    for (int c = c0, c1 = Math.Min(cols, c0 + 32); c < c1; c++)
                        dst[c * rows + r] = src[r * cols + c];
    }

    /// <summary>
    /// How dx is computed. Stride 1: as the forward convolution of gy with the flipped, transposed weights
    /// W' [Cin, Cout·Kh·Kw] (W'[c, (o·Kh + i)·Kw + j] = W[o, c, Kh−1−i, Kw−1−j], padding Kh−1−top, Kw−1−left): one
    /// GEMM with depth Cout·Kh·Kw that writes dx directly, where dcol = Wᵀ·gy has depth Cout only (short kernel
    /// runs) and col2im then scatters and adds it. Other strides: dcol and col2im. Either A (W' or Wᵀ) is
    /// packed once per call when the images run in parallel.
    /// </summary>
    private readonly struct DxPlan
    {
        public readonly bool Transposed;
        public readonly ConvGeom Gt;          // the transposed convolution's geometry (Transposed only)
        public readonly nint A;               // W' (Transposed) or W
        public readonly Gemm.PackedA? Packed; // W' or Wᵀ, packed
        private readonly float[]? _flipped;

        private DxPlan(bool transposed, ConvGeom gt, nint a, Gemm.PackedA? packed, float[]? flipped)
        {
            Transposed = transposed; Gt = gt; A = a; Packed = packed; _flipped = flipped;
        }

        public static DxPlan Make(in ConvGeom g, float* w, bool packed)
        {
            if (g.Stride != 1)
                return new DxPlan(false, default, (nint)w, packed ? Gemm.Pack(true, g.K, g.Cout, 1f, w, g.K, ref _packedW) : null, null);
            var gt = new ConvGeom(g.N, g.Cout, g.Ho, g.Wo, g.Cin, g.Kh, g.Kw, 1, g.Kh - 1 - g.PadTop, g.Kw - 1 - g.PadLeft, g.H, g.W);
            int khw = g.Kh * g.Kw;
            var flipped = ArrayPool<float>.Shared.Rent(g.Cin * gt.K);
            for (int o = 0; o < g.Cout; o++)
                for (int c = 0; c < g.Cin; c++)
                {
                    float* src = w + ((long)o * g.Cin + c) * khw;
                    for (int t = 0; t < khw; t++) flipped[(long)c * gt.K + o * khw + t] = src[khw - 1 - t];
                }
            fixed (float* pf = flipped) // ArrayPool arrays are not pinned: pack (or copy to pinned scratch) while fixed
            {
                var pk = packed ? Gemm.Pack(false, g.Cin, gt.K, 1f, pf, gt.K, ref _packedW) : null;
                if (pk is not null) { ArrayPool<float>.Shared.Return(flipped); return new DxPlan(true, gt, 0, pk, null); }
            }
            return new DxPlan(true, gt, 0, null, flipped);
        }

        /// <summary>W' unpacked (only without <see cref="Packed"/>), pinned for the caller's fixed scope.</summary>
        public float[]? Flipped => _flipped;

        public void Release()
        {
            GC.KeepAlive(Packed);
            if (_flipped is not null) ArrayPool<float>.Shared.Return(_flipped);
        }
    }

    /// <summary>One image's gradients: dwT [K, Cout] += col·gyᵀ, db += row sums of gy, dx per <paramref name="plan"/>.</summary>
    private static void BackwardImage(in ConvGeom g, float* x, float* w, float* gy, float* dx, float* dwT, float* db, in DxPlan plan, bool par)
    {
        int P = g.P, K = g.K;
        if (db != null)
            for (int co = 0; co < g.Cout; co++) db[co] += TensorPrimitives.Sum(new ReadOnlySpan<float>(gy + (long)co * P, P));
        if (g.IsPointwise)
        {
            if (dwT != null) Mm(false, true, K, g.Cout, P, x, P, gy, P, 1f, dwT, g.Cout, par);
            if (dx != null) Mm(true, false, K, P, g.Cout, w, K, gy, P, 0f, dx, P, par);
            return;
        }
        if (dwT == null && dx == null) return;
        int bandRows = BandRows(g);
        if (dwT != null)
            for (int oh0 = 0; oh0 < g.Ho; oh0 += bandRows)
            {
                int oh1 = Math.Min(g.Ho, oh0 + bandRows), pc = (oh1 - oh0) * g.Wo;
                if (PacksColAsA(g, pc, par)) { WeightGradientPacked(g, x, gy, oh0, oh1, dwT); continue; }
                fixed (float* col = Scratch(K * bandRows * g.Wo))
                {
                    Im2Col(g, x, oh0, oh1, col);
                    Mm(false, true, K, g.Cout, pc, col, pc, gy + oh0 * g.Wo, P, 1f, dwT, g.Cout, par);
                }
            }
        if (dx == null) return;
        if (plan.Transposed)
        {
            var gt = plan.Gt; // dx [Cin, H·W] = W' · im2col(gy) over gt's output rows (dx's rows)
            int rows = BandRows(gt), HW = g.H * g.W;
            if (plan.Packed != null)
                fixed (float* scratch = Scratch(ref _scratch2, PackedFloats(Gemm.LayoutB(plan.Packed, rows * gt.Wo))))
                {
                    float* col = Align64(scratch);
                    for (int r0 = 0; r0 < gt.Ho; r0 += rows)
                    {
                        int r1 = Math.Min(gt.Ho, r0 + rows), n = (r1 - r0) * gt.Wo;
                        Im2ColPacked(gt, gy, r0, r1, Gemm.LayoutB(plan.Packed, n), col);
                        Gemm.SgemmPacked(plan.Packed, n, col, 0f, dx + r0 * gt.Wo, HW);
                    }
                }
            else
                fixed (float* col = Scratch(ref _scratch2, gt.K * rows * gt.Wo), wf = plan.Flipped)
                    for (int r0 = 0; r0 < gt.Ho; r0 += rows)
                    {
                        int r1 = Math.Min(gt.Ho, r0 + rows), n = (r1 - r0) * gt.Wo;
                        Im2Col(gt, gy, r0, r1, col);
                        Mm(false, false, g.Cin, n, gt.K, wf, gt.K, col, n, 0f, dx + r0 * gt.Wo, HW, par);
                    }
            return;
        }
        new Span<float>(dx, g.Cin * g.H * g.W).Clear(); // col2im adds into it
        fixed (float* col = Scratch(ref _scratch2, K * bandRows * g.Wo))
            for (int oh0 = 0; oh0 < g.Ho; oh0 += bandRows)
            {
                int oh1 = Math.Min(g.Ho, oh0 + bandRows), pc = (oh1 - oh0) * g.Wo;
                float* gb = gy + oh0 * g.Wo;
                if (plan.Packed != null) Gemm.SgemmPacked(plan.Packed, false, pc, gb, P, 0f, col, pc);
                else Mm(true, false, K, pc, g.Cout, w, K, gb, P, 0f, col, pc, par);
                Col2ImAdd(g, col, oh0, oh1, dx);
            }
    }

    // ---- im2col / col2im ----------------------------------------------------------------------------

    /// <summary>Range [lo, hi) of output columns ow whose input column ow·s + off lies in [0, W).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int lo, int hi) ValidCols(int off, int s, int W, int Wo)
    {
        int lo = off >= 0 ? 0 : (-off + s - 1) / s;
        int last = W - 1 - off; // ow·s ≤ last
        int hi = last < 0 ? 0 : Math.Min(Wo, last / s + 1);
        lo = Math.Min(lo, Wo);
        if (hi < lo) hi = lo;
        return (lo, hi);
    }

    /// <summary>im2col of one image x [Cin, H, W] for output rows [oh0, oh1) into col [K, (oh1 − oh0)·Wo].</summary>
    public static void Im2Col(in ConvGeom g, ReadOnlySpan<float> x, int oh0, int oh1, Span<float> col)
    {
        if (x.Length < g.Cin * g.H * g.W || oh0 < 0 || oh1 > g.Ho || oh1 < oh0 || col.Length < g.K * (oh1 - oh0) * g.Wo)
            throw new ArgumentException($"im2col: buffers x={x.Length}, col={col.Length} or rows [{oh0}, {oh1}) do not fit {g}");
        fixed (float* px = x, pc = col) Im2Col(g, px, oh0, oh1, pc);
    }

    /// <summary>
    /// col [K, pc] (pc = (oh1 − oh0)·Wo) for output rows [oh0, oh1) of one image x [Cin, H, W]:
    /// col[(c·Kh + i)·Kw + j, (oh − oh0)·Wo + ow] = x[c, oh·s + i − padTop, ow·s + j − padLeft], zero outside.
    /// </summary>
    internal static void Im2Col(in ConvGeom g, float* x, int oh0, int oh1, float* col)
    {
        switch (SimdPath.Bits)
        {
            case 512: Im2Col<V512>(true, g, x, oh0, oh1, col); break;
            case 256: Im2Col<V256>(true, g, x, oh0, oh1, col); break;
            case 128: Im2Col<V128>(true, g, x, oh0, oh1, col); break;
            default: Im2Col<V128>(false, g, x, oh0, oh1, col); break; // the scalar reference
        }
    }

    private static void Im2Col<V>(bool simd, in ConvGeom g, float* x, int oh0, int oh1, float* col) where V : unmanaged, IVec<V>
    {
        int H = g.H, W = g.W, Wo = g.Wo, s = g.Stride, pc = (oh1 - oh0) * Wo;
        float* dst = col;
        for (int c = 0; c < g.Cin; c++)
        {
            float* xc = x + (long)c * H * W;
            for (int i = 0; i < g.Kh; i++)
                for (int j = 0; j < g.Kw; j++, dst += pc)
                {
                    int off = j - g.PadLeft;
                    var (lo, hi) = ValidCols(off, s, W, Wo);
                    for (int oh = oh0; oh < oh1; oh++)
                    {
                        float* d = dst + (oh - oh0) * Wo;
                        int ih = oh * s + i - g.PadTop;
                        if ((uint)ih >= (uint)H) { new Span<float>(d, Wo).Clear(); continue; }
                        for (int t = 0; t < lo; t++) d[t] = 0f;
                        for (int t = hi; t < Wo; t++) d[t] = 0f;
                        float* src = xc + ih * W + off; // src[ow·s] is the input for column ow
                        if (s == 1) CopyRow<V>(simd, src + lo, d + lo, hi - lo);
                        else if (s == 2 && simd) Gather2<V>(src, d, lo, hi, W - off);
                        else for (int ow = lo; ow < hi; ow++) d[ow] = src[ow * s];
                    }
                }
        }
    }

    /// <summary>Scratch floats for a packed B of this layout, with room to start it on a 64-byte boundary.</summary>
    private static int PackedFloats(in Gemm.PackedBLayout layout) => checked((int)layout.Floats + 16);

    /// <summary>The first 64-byte boundary at or after p (the micro-kernels' B loads then never split a cache line).</summary>
    private static float* Align64(float* p) => (float*)(((nint)p + 63) & ~(nint)63);

    /// <summary>
    /// The im2col matrix of output rows [oh0, oh1) of one image (the values <see cref="Im2Col(in ConvGeom, float*, int, int, float*)"/>
    /// writes) straight into the packed-B layout of a product with packed weights (<see cref="Gemm.LayoutB"/>), where
    /// the GEMM's own packing would have put them: the product then packs no B, one pass over the K × P matrix less.
    /// Each (tap, output row) is still one run of the input row, cut where it crosses a panel boundary. The product
    /// reads the same packed values as before, so results are bit-identical. On a 2-core AMD EPYC with AVX-512 (Zen 4
    /// class, family 25 model 17: KC 672 / NC 128), against im2col + the GEMM's own packing (bench/compare_builds.py,
    /// 6 alternating rounds): conv3x3 forward + backward 32×64×32×32 0.97 and 32×128×16×16 0.965 of the time, the
    /// vq-tiny train step 0.97 at 512 bits; at 256 bits the step 0.945 and the 32×64 conv 1.04. This VM drifted by
    /// ±15% meanwhile, so those are within its noise; the profile is steadier: im2col's share of the 32×128 conv is
    /// 5.5% with the bordered band below, 10.4% without it (same work as Im2Col, bounds tested per piece).
        /// </summary>
    internal static void Im2ColPacked(in ConvGeom g, float* x, int oh0, int oh1, in Gemm.PackedBLayout layout, float* dst)
    {
        switch (SimdPath.Bits)
        {
            case 512: Im2ColPacked<V512>(true, g, x, oh0, oh1, layout, dst); break;
            case 256: Im2ColPacked<V256>(true, g, x, oh0, oh1, layout, dst); break;
            case 128: Im2ColPacked<V128>(true, g, x, oh0, oh1, layout, dst); break;
            default: Im2ColPacked<V128>(false, g, x, oh0, oh1, layout, dst); break; // the scalar reference
        }
    }

    private static void Im2ColPacked<V>(bool simd, in ConvGeom g, float* x, int oh0, int oh1, in Gemm.PackedBLayout layout, float* dst)
        where V : unmanaged, IVec<V>
    {
        // Why a packed copy at all, when at stride 1 each sliver row is a plain run of the padded band: a kernel reading
        // its B rows straight from the band (an implicit GEMM) was timed against pack + kernel on vq-tiny's 64-channel
        // 32×32 layer (one thread, 2-core Zen 3 EPYC, AVX2) and was 16% slower. The band's rows sit in L2 at any float
        // offset, two cache lines per 16-float row, and the kernel waits on them more than the packing costs.
        // Panel by panel, and within a panel tap by tap: the writes run straight through the buffer. (Tap by tap over
        // the whole image, as Im2Col goes, writes each panel's rows nr·kc floats apart: a store stream per panel, more
        // than the prefetchers follow, and it cost 4× Im2Col's time.) The band's input rows are first copied with their
        // zero border (the padding) into a buffer of their own, so each piece is one plain copy, no bounds to test:
        // pieces are a vector or two long, and the tests cost as much as the copy.
        int s = g.Stride, Wo = g.Wo, khw = g.Kh * g.Kw, nr = layout.NR, depth = layout.SliceDepth;
        int pc = (oh1 - oh0) * Wo, Hb = (oh1 - oh0 - 1) * s + g.Kh, Wb = (Wo - 1) * s + g.Kw;
        fixed (float* xb = Scratch(ref _padded, g.Cin * Hb * Wb + 32)) // + 32: a stride-2 gather reads one float past its last
        {
            Border(g, x, oh0 * s - g.PadTop, Hb, Wb, xb);
            long sliceFloats = (long)depth * layout.NRound;
            // Per piece of the panel (a run of output pixels within one output row): its first float in a channel's
            // band, its length, its place in the panel. Per depth row of the slice: where its tap (channel, kernel row
            // and column) starts in the band, for output (0, 0); computed once per slice, so the loop over depth rows
            // keeps only pointers in registers (with the tap counters in it, the JIT spilled to the stack on every row).
            int* srcOff = stackalloc int[nr], len = stackalloc int[nr], dstOff = stackalloc int[nr];
            int* moveSrc = stackalloc int[nr], moveDst = stackalloc int[nr];
            int* tapOff = stackalloc int[Math.Min(depth, g.K)];
            for (int k0 = 0; k0 < g.K; k0 += depth)
            {
                int kc = Math.Min(depth, g.K - k0);
                float* slice = dst + k0 / depth * sliceFloats;
                for (int kk = 0, c = k0 / khw, t = k0 - c * khw, i = t / g.Kw, j = t - i * g.Kw; kk < kc; kk++)
                {
                    tapOff[kk] = (c * Hb + i) * Wb + j;
                    if (++j == g.Kw) { j = 0; if (++i == g.Kh) { i = 0; c++; } }
                }
                for (int p0 = 0; p0 < pc; p0 += nr)
                {
                    int used = Math.Min(nr, pc - p0), count = 0;
                    for (int p = p0; p < p0 + used; count++)
                    {
                        int r = p / Wo, ow = p - r * Wo;
                        len[count] = Math.Min(Wo - ow, p0 + used - p);
                        srcOff[count] = r * s * Wb + ow * s;
                        dstOff[count] = p - p0;
                        p += len[count];
                    }
                    float* d = slice + (long)(p0 / nr) * nr * kc;
                    if (simd && s == 1 && count == 1 && used == nr && nr % V.Count == 0)
                    {
                        // The common panel: one full-width run of one output row, whole vectors. The move list below covers
                        // it too, but took 1.1–1.2× as long on these panels at 256 bits: these offsets are constants
                        // (2-core Intel Xeon, Ice Lake server class, AVX-512 machine run with DOTNET_EnableAVX512=0).
                        float* from = xb + srcOff[0];
                        for (int kk = 0; kk < kc; kk++, d += nr)
                        {
                            float* src = from + tapOff[kk];
                            for (int q = 0; q < nr; q += V.Count) V.Load(src + q).Store(d + q);
                        }
                        continue;
                    }
                    // A panel of several pieces (output rows shorter than the panel, or a panel that starts mid-row: 48-wide
                    // panels over 32-pixel rows), each at least 4 floats: the pieces become a list of vector moves, made once
                    // per panel, so each depth row is only moves. Piece by piece, with CopyRow's tests and tails, vq-tiny's
                    // layers took 1.2–1.7× as long at 512 bits (2-core Intel Xeon, Ice Lake server class), where im2col was
                    // 10% of the training step; its 8×8 layer 1.6× at 256 bits.
                    int width = simd && s == 1 ? MoveWidth(count, len, V.Count) : 0;
                    if (width > 0)
                    {
                        int moves = PanelMoves(count, srcOff, len, dstOff, width, moveSrc, moveDst);
                        if (width == V.Count) CopyPanel<V>(xb, tapOff, kc, d, nr, used, moves, moveSrc, moveDst);
                        else if (width == 8) CopyPanel<V256>(xb, tapOff, kc, d, nr, used, moves, moveSrc, moveDst);
                        else CopyPanel<V128>(xb, tapOff, kc, d, nr, used, moves, moveSrc, moveDst);
                        continue;
                    }
                    for (int kk = 0; kk < kc; kk++, d += nr)
                    {
                        float* tap = xb + tapOff[kk];
                        for (int e = 0; e < count; e++)
                        {
                            float* src = tap + srcOff[e];
                            float* piece = d + dstOff[e];
                            if (s == 1) CopyRow<V>(simd, src, piece, len[e]);
                            else if (s == 2 && simd) Gather2<V>(src, piece, 0, len[e], 2 * len[e]);
                            else for (int q = 0; q < len[e]; q++) piece[q] = src[q * s];
                        }
                        if (used < nr) new Span<float>(d + used, nr - used).Clear(); // the last panel's columns past pc
                    }
                }
            }
        }
    }

    /// <summary>The widest vector (of <paramref name="lanes"/>, 8 or 4 floats, no wider than the path's own) that every piece of a
    /// panel holds at least once; 0 when a piece is shorter than 4 floats.</summary>
    private static int MoveWidth(int count, int* len, int lanes)
    {
        int shortest = int.MaxValue;
        for (int e = 0; e < count; e++) shortest = Math.Min(shortest, len[e]);
        return shortest >= lanes ? lanes : lanes > 8 && shortest >= 8 ? 8 : lanes > 4 && shortest >= 4 ? 4 : 0;
    }

    /// <summary>
    /// A panel's pieces as vector moves of <paramref name="width"/> floats (source offset in the band, column in the panel):
    /// each piece in whole vectors, and a last one that ends where the piece ends, overlapping the one before it (the same
    /// values again) where the piece is not a whole number of vectors. Every piece is at least one vector long.
    /// </summary>
    /// <returns>The number of moves (at most the panel's width in floats).</returns>
    private static int PanelMoves(int count, int* srcOff, int* len, int* dstOff, int width, int* moveSrc, int* moveDst)
    {
        int moves = 0;
        for (int e = 0; e < count; e++)
        {
            int q = 0;
            for (; q + width <= len[e]; q += width, moves++) { moveSrc[moves] = srcOff[e] + q; moveDst[moves] = dstOff[e] + q; }
            if (q < len[e]) { moveSrc[moves] = srcOff[e] + len[e] - width; moveDst[moves] = dstOff[e] + len[e] - width; moves++; }
        }
        return moves;
    }

    /// <summary>One panel of <see cref="Im2ColPacked"/> at stride 1: for each depth row, its tap's moves; columns past
    /// <paramref name="used"/> (the last panel's) are zeroed.</summary>
    private static void CopyPanel<W>(float* xb, int* tapOff, int kc, float* d, int nr, int used, int moves, int* moveSrc, int* moveDst)
        where W : unmanaged, IVec<W>
    {
        for (int kk = 0; kk < kc; kk++, d += nr)
        {
            float* tap = xb + tapOff[kk];
            for (int m = 0; m < moves; m++) W.Load(tap + moveSrc[m]).Store(d + moveDst[m]);
            if (used < nr) new Span<float>(d + used, nr - used).Clear();
        }
    }

    /// <summary>
    /// xb [Cin, Hb, Wb] = the input rows ih0 … ih0 + Hb − 1 of every channel, columns −PadLeft … Wb − PadLeft − 1, zero
    /// where that lies outside the image (the padding, or rows past either edge).
    /// </summary>
    private static void Border(in ConvGeom g, float* x, int ih0, int Hb, int Wb, float* xb)
    {
        int lo = Math.Clamp(g.PadLeft, 0, Wb), hi = Math.Clamp(g.PadLeft + g.W, lo, Wb); // where columns of the image land
        int from = Math.Max(0, -g.PadLeft);                                                // its first column that lands
        for (int c = 0; c < g.Cin; c++)
            for (int r = 0; r < Hb; r++)
            {
                float* row = xb + ((long)c * Hb + r) * Wb;
                int ih = ih0 + r;
                if ((uint)ih >= (uint)g.H) { new Span<float>(row, Wb).Clear(); continue; }
                new Span<float>(row, lo).Clear();
                new ReadOnlySpan<float>(x + ((long)c * g.H + ih) * g.W + from, hi - lo).CopyTo(new Span<float>(row + lo, hi - lo));
                new Span<float>(row + hi, Wb - hi).Clear();
            }
    }

    /// <summary>d[ow] = src[2·ow] for ow in [lo, hi); src[t] is readable for t &lt; avail. Two vectors of input, the
    /// even lanes of each shuffled into one half (out-of-range shuffle indices give zeros) and the halves OR-ed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Gather2<V>(float* src, float* d, int lo, int hi, int avail) where V : unmanaged, IVec<V>
    {
        int ow = lo, w = V.Count;
        if (w == 16)
        {
            var ia = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1);
            var ib = Vector512.Create(-1, -1, -1, -1, -1, -1, -1, -1, 0, 2, 4, 6, 8, 10, 12, 14);
            for (; ow + 16 <= hi && 2 * ow + 32 <= avail; ow += 16)
                (Vector512.Shuffle(Vector512.Load(src + 2 * ow), ia) | Vector512.Shuffle(Vector512.Load(src + 2 * ow + 16), ib)).Store(d + ow);
        }
        else if (w == 8)
        {
            var ia = Vector256.Create(0, 2, 4, 6, -1, -1, -1, -1);
            var ib = Vector256.Create(-1, -1, -1, -1, 0, 2, 4, 6);
            for (; ow + 8 <= hi && 2 * ow + 16 <= avail; ow += 8)
                (Vector256.Shuffle(Vector256.Load(src + 2 * ow), ia) | Vector256.Shuffle(Vector256.Load(src + 2 * ow + 8), ib)).Store(d + ow);
        }
        else
        {
            var ia = Vector128.Create(0, 2, -1, -1);
            var ib = Vector128.Create(-1, -1, 0, 2);
            for (; ow + 4 <= hi && 2 * ow + 8 <= avail; ow += 4)
                (Vector128.Shuffle(Vector128.Load(src + 2 * ow), ia) | Vector128.Shuffle(Vector128.Load(src + 2 * ow + 4), ib)).Store(d + ow);
        }
        for (; ow < hi; ow++) d[ow] = src[2 * ow];
    }

    /// <summary>dx [Cin, H, W] += col2im of col [K, (oh1 − oh0)·Wo] for output rows [oh0, oh1) (adjoint of im2col).</summary>
    public static void Col2ImAdd(in ConvGeom g, ReadOnlySpan<float> col, int oh0, int oh1, Span<float> dx)
    {
        if (dx.Length < g.Cin * g.H * g.W || oh0 < 0 || oh1 > g.Ho || oh1 < oh0 || col.Length < g.K * (oh1 - oh0) * g.Wo)
            throw new ArgumentException($"col2im: buffers dx={dx.Length}, col={col.Length} or rows [{oh0}, {oh1}) do not fit {g}");
        fixed (float* pd = dx, pc = col) Col2ImAdd(g, pc, oh0, oh1, pd);
    }

    /// <summary>Adjoint of <see cref="Im2Col"/>: dx[c, ih, iw] += col[...] for the band's rows.</summary>
    internal static void Col2ImAdd(in ConvGeom g, float* col, int oh0, int oh1, float* dx)
    {
        switch (SimdPath.Bits)
        {
            case 512: Col2ImAdd<V512>(true, g, col, oh0, oh1, dx); break;
            case 256: Col2ImAdd<V256>(true, g, col, oh0, oh1, dx); break;
            case 128: Col2ImAdd<V128>(true, g, col, oh0, oh1, dx); break;
            default: Col2ImAdd<V128>(false, g, col, oh0, oh1, dx); break;
        }
    }

    private static void Col2ImAdd<V>(bool simd, in ConvGeom g, float* col, int oh0, int oh1, float* dx) where V : unmanaged, IVec<V>
    {
        int H = g.H, W = g.W, Wo = g.Wo, s = g.Stride, pc = (oh1 - oh0) * Wo;
        float* srcRow = col;
        for (int c = 0; c < g.Cin; c++)
        {
            float* xc = dx + (long)c * H * W;
            for (int i = 0; i < g.Kh; i++)
                for (int j = 0; j < g.Kw; j++, srcRow += pc)
                {
                    int off = j - g.PadLeft;
                    var (lo, hi) = ValidCols(off, s, W, Wo);
                    if (hi <= lo) continue;
                    for (int oh = oh0; oh < oh1; oh++)
                    {
                        int ih = oh * s + i - g.PadTop;
                        if ((uint)ih >= (uint)H) continue;
                        float* sp = srcRow + (oh - oh0) * Wo;
                        float* d = xc + ih * W + off;
                        if (s == 1) AddRow<V>(simd, sp + lo, d + lo, hi - lo);
                        else for (int ow = lo; ow < hi; ow++) d[ow * s] += sp[ow];
                    }
                }
        }
    }

    // ---- helpers ------------------------------------------------------------------------------------

    /// <summary>
    /// d[0..len) = s[0..len) for the short rows of im2col (no call overhead); scalar unless <paramref name="simd"/>.
    /// The rows are 1–2 vectors long (vq-tiny's 32, 31, 16, 15, 8, 7 floats), so the tail is one more vector that
    /// ends at len and overlaps the last one (it writes the same values again), and a row shorter than V is two
    /// overlapping half- or quarter-width vectors; a scalar tail cost up to 15 copies per row at 512 bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow<V>(bool simd, float* s, float* d, int len) where V : unmanaged, IVec<V>
    {
        if (simd && len >= V.Count)
        {
            int i = 0;
            for (; i + V.Count <= len; i += V.Count) V.Load(s + i).Store(d + i);
            if (i < len) V.Load(s + len - V.Count).Store(d + len - V.Count);
            return;
        }
        if (simd && V.Count > 8 && len >= 8)
        {
            Vector256.Load(s).Store(d); Vector256.Load(s + len - 8).Store(d + len - 8);
            return;
        }
        if (simd && V.Count > 4 && len >= 4)
        {
            Vector128.Load(s).Store(d); Vector128.Load(s + len - 4).Store(d + len - 4);
            return;
        }
        for (int i = 0; i < len; i++) d[i] = s[i];
    }

    /// <summary>d[0..len) += s[0..len).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRow<V>(bool simd, float* s, float* d, int len) where V : unmanaged, IVec<V>
    {
        int i = 0;
        if (simd)
            for (; i + V.Count <= len; i += V.Count) (V.Load(d + i) + V.Load(s + i)).Store(d + i);
        for (; i < len; i++) d[i] += s[i];
    }

    private static void Check(in ConvGeom g, int xLen, int wLen, int yLen)
    {
        if (xLen != g.N * g.Cin * g.H * g.W || wLen != g.Cout * g.K || yLen != g.N * g.Cout * g.P)
            throw new ArgumentException($"conv2d kernel: buffer lengths x={xLen}, w={wLen}, y={yLen} do not match {g}");
    }

    /// <summary>Row-major C = op(A)·op(B) + beta·C on raw pointers; <paramref name="par"/> lets the GEMM use several cores.</summary>
    private static void Mm(bool ta, bool tb, int m, int n, int k, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, bool par)
    {
        if (m == 0 || n == 0) return;
        int lc = (m - 1) * ldc + n;
        if (k == 0)
        {
            for (int i = 0; i < m; i++)
            {
                var row = new Span<float>(c + (long)i * ldc, n);
                if (beta == 0f) row.Clear(); else TensorPrimitives.Multiply(row, beta, row);
            }
            return;
        }
        int la = ta ? (k - 1) * lda + m : (m - 1) * lda + k;
        int lb = tb ? (n - 1) * ldb + k : (k - 1) * ldb + n;
        Gemm.Sgemm(ta, tb, m, n, k, 1f, new ReadOnlySpan<float>(a, la), lda, new ReadOnlySpan<float>(b, lb), ldb,
            beta, new Span<float>(c, lc), ldc, parallel: par);
    }

    // ---- upsample / pad -----------------------------------------------------------------------------

    /// <summary>y [planes, 2H, 2W] = nearest ×2 of x [planes, H, W].</summary>
    public static void UpsampleNearest2x(ReadOnlySpan<float> x, Span<float> y, int planes, int H, int W)
    {
        if (x.Length != planes * H * W || y.Length != 4 * x.Length) throw new ArgumentException("upsample kernel: buffer lengths");
        int bits = SimdPath.Bits;
        fixed (float* px = x, py = y)
        {
            nint X = (nint)px, Y = (nint)py;
            Par.ForRange(planes * H, 4L * W, (r0, r1) =>
            {
                for (int r = r0; r < r1; r++)
                {
                    float* s = (float*)X + (long)r * W, d0 = (float*)Y + (long)r * 4 * W, d1 = d0 + 2 * W;
                    int w = UpsampleRow(bits, s, d0, d1, W);
                    for (; w < W; w++)
                    {
                        float v = s[w];
                        d0[2 * w] = v; d0[2 * w + 1] = v; d1[2 * w] = v; d1[2 * w + 1] = v;
                    }
                }
            });
        }
    }

    /// <summary>dx [planes, H, W] = sums of the 2×2 blocks of gy [planes, 2H, 2W].</summary>
    public static void UpsampleNearest2xBackward(ReadOnlySpan<float> gy, Span<float> dx, int planes, int H, int W)
    {
        if (dx.Length != planes * H * W || gy.Length != 4 * dx.Length) throw new ArgumentException("upsample backward kernel: buffer lengths");
        int bits = SimdPath.Bits;
        fixed (float* pg = gy, pd = dx)
        {
            nint G = (nint)pg, D = (nint)pd;
            Par.ForRange(planes * H, 4L * W, (r0, r1) =>
            {
                for (int r = r0; r < r1; r++)
                {
                    float* g0 = (float*)G + (long)r * 4 * W, g1 = g0 + 2 * W, d = (float*)D + (long)r * W;
                    int w = DownsumRow(bits, g0, g1, d, W);
                    for (; w < W; w++) d[w] = (g0[2 * w] + g1[2 * w]) + (g0[2 * w + 1] + g1[2 * w + 1]); // the vector lanes' order
                }
            });
        }
    }

    /// <summary>d0[2w], d0[2w+1], d1[2w], d1[2w+1] = s[w] for the vector-sized prefix of a row at the given width
    /// (each input vector shuffled into its two duplicated halves); returns where the scalar tail starts.</summary>
    private static int UpsampleRow(int bits, float* s, float* d0, float* d1, int W)
    {
        int w = 0;
        switch (bits)
        {
            case 512:
            {
                var lo = Vector512.Create(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
                var hi = Vector512.Create(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
                for (; w + 16 <= W; w += 16)
                {
                    var v = Vector512.Load(s + w);
                    var a = Vector512.Shuffle(v, lo); var b = Vector512.Shuffle(v, hi);
                    a.Store(d0 + 2 * w); b.Store(d0 + 2 * w + 16); a.Store(d1 + 2 * w); b.Store(d1 + 2 * w + 16);
                }
                break;
            }
            case 256:
            {
                var lo = Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3);
                var hi = Vector256.Create(4, 4, 5, 5, 6, 6, 7, 7);
                for (; w + 8 <= W; w += 8)
                {
                    var v = Vector256.Load(s + w);
                    var a = Vector256.Shuffle(v, lo); var b = Vector256.Shuffle(v, hi);
                    a.Store(d0 + 2 * w); b.Store(d0 + 2 * w + 8); a.Store(d1 + 2 * w); b.Store(d1 + 2 * w + 8);
                }
                break;
            }
            case 128:
            {
                var lo = Vector128.Create(0, 0, 1, 1);
                var hi = Vector128.Create(2, 2, 3, 3);
                for (; w + 4 <= W; w += 4)
                {
                    var v = Vector128.Load(s + w);
                    var a = Vector128.Shuffle(v, lo); var b = Vector128.Shuffle(v, hi);
                    a.Store(d0 + 2 * w); b.Store(d0 + 2 * w + 4); a.Store(d1 + 2 * w); b.Store(d1 + 2 * w + 4);
                }
                break;
            }
        }
        return w;
    }

    /// <summary>d[w] = sum of the 2×2 block (g0[2w], g0[2w+1], g1[2w], g1[2w+1]) for the vector-sized prefix of a row:
    /// the two rows added, then even and odd lanes shuffled apart (out-of-range indices give zeros, so two half
    /// shuffles OR into one vector) and added; returns where the scalar tail starts.</summary>
    private static int DownsumRow(int bits, float* g0, float* g1, float* d, int W)
    {
        int w = 0;
        switch (bits)
        {
            case 512:
            {
                var ea = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1);
                var eb = Vector512.Create(-1, -1, -1, -1, -1, -1, -1, -1, 0, 2, 4, 6, 8, 10, 12, 14);
                var oa = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, -1, -1, -1, -1, -1, -1, -1, -1);
                var ob = Vector512.Create(-1, -1, -1, -1, -1, -1, -1, -1, 1, 3, 5, 7, 9, 11, 13, 15);
                for (; w + 16 <= W; w += 16)
                {
                    var a = Vector512.Load(g0 + 2 * w) + Vector512.Load(g1 + 2 * w);
                    var b = Vector512.Load(g0 + 2 * w + 16) + Vector512.Load(g1 + 2 * w + 16);
                    ((Vector512.Shuffle(a, ea) | Vector512.Shuffle(b, eb)) + (Vector512.Shuffle(a, oa) | Vector512.Shuffle(b, ob))).Store(d + w);
                }
                break;
            }
            case 256:
            {
                var ea = Vector256.Create(0, 2, 4, 6, -1, -1, -1, -1);
                var eb = Vector256.Create(-1, -1, -1, -1, 0, 2, 4, 6);
                var oa = Vector256.Create(1, 3, 5, 7, -1, -1, -1, -1);
                var ob = Vector256.Create(-1, -1, -1, -1, 1, 3, 5, 7);
                for (; w + 8 <= W; w += 8)
                {
                    var a = Vector256.Load(g0 + 2 * w) + Vector256.Load(g1 + 2 * w);
                    var b = Vector256.Load(g0 + 2 * w + 8) + Vector256.Load(g1 + 2 * w + 8);
                    ((Vector256.Shuffle(a, ea) | Vector256.Shuffle(b, eb)) + (Vector256.Shuffle(a, oa) | Vector256.Shuffle(b, ob))).Store(d + w);
                }
                break;
            }
            case 128:
            {
                var ea = Vector128.Create(0, 2, -1, -1);
                var eb = Vector128.Create(-1, -1, 0, 2);
                var oa = Vector128.Create(1, 3, -1, -1);
                var ob = Vector128.Create(-1, -1, 1, 3);
                for (; w + 4 <= W; w += 4)
                {
                    var a = Vector128.Load(g0 + 2 * w) + Vector128.Load(g1 + 2 * w);
                    var b = Vector128.Load(g0 + 2 * w + 4) + Vector128.Load(g1 + 2 * w + 4);
                    ((Vector128.Shuffle(a, ea) | Vector128.Shuffle(b, eb)) + (Vector128.Shuffle(a, oa) | Vector128.Shuffle(b, ob))).Store(d + w);
                }
                break;
            }
        }
        return w;
    }

    /// <summary>
    /// Copies the overlap of x [planes, H, W] placed at offset (top, left) into y [planes, Ho, Wo]; the rest
    /// of y is <paramref name="fill"/>. Negative offsets crop, so the backward of a pad is the same call with
    /// the offsets negated and fill 0.
    /// </summary>
    public static void Pad2d(ReadOnlySpan<float> x, Span<float> y, int planes, int H, int W, int Ho, int Wo, int top, int left, float fill)
    {
        if (x.Length != planes * H * W || y.Length != planes * Ho * Wo) throw new ArgumentException("pad2d kernel: buffer lengths");
        // Output rows oy = iy + top, columns ox = ix + left.
        int oy0 = Math.Max(0, top), oy1 = Math.Min(Ho, H + top);
        int ox0 = Math.Max(0, left), ox1 = Math.Min(Wo, W + left);
        bool full = oy0 == 0 && oy1 == Ho && ox0 == 0 && ox1 == Wo;
        fixed (float* px = x, py = y)
        {
            nint X = (nint)px, Y = (nint)py;
            Par.ForRange(planes, (long)Ho * Wo, (p0, p1) =>
            {
                for (int p = p0; p < p1; p++)
                {
                    float* xp = (float*)X + (long)p * H * W, yp = (float*)Y + (long)p * Ho * Wo;
                    if (!full) new Span<float>(yp, Ho * Wo).Fill(fill);
                    if (ox1 <= ox0) continue;
                    for (int oy = oy0; oy < oy1; oy++)
                        Buffer.MemoryCopy(xp + (long)(oy - top) * W + (ox0 - left), yp + (long)oy * Wo + ox0, (ox1 - ox0) * 4L, (ox1 - ox0) * 4L);
                }
            });
        }
    }
}
