using Crt.Tensors.Kernels.Cpu;
using ILGPU;
using ILGPU.Runtime;

namespace Crt.Tensors.Backends.Ilgpu;

/// <summary>
/// The ILGPU device's 2-D convolution, lowered onto the GEMM kernel as on the CPU: im2col builds the column matrix of a
/// chunk of images [K, Nc·P], one batched GEMM (the weights shared, stride 0) writes y [N, Cout, P] image by image, and
/// the bias is added per channel. Backward: the chunk's output gradient is transposed to gt [Cout, Nc·P]; then
/// dw = gt·colᵀ (one GEMM of depth Nc·P, chunks added with beta = 1), dcol = Wᵀ·gt and col2im gathers dx, and db
/// is the per-channel sum of g. Chunks bound the column matrix's memory (<see cref="ColFloats"/>).
/// </summary>
internal sealed partial class IlgpuKernelTable
{
    /// <summary>
    /// The most floats a chunk's column matrix holds (64 MB); a chunk is at least one image. Settable so that tests run
    /// several chunks on tiny images (a process-wide setting: see GlobalKernelSettings in the tests).
    /// </summary>
    internal static int ColFloats { get; set; } = 1 << 24;

    private static int ChunkImages(in ConvGeom g) => (int)Math.Clamp(ColFloats / Math.Max(1L, (long)g.K * g.P), 1, Math.Max(1, g.N));

    private void Im2Col(Tensor x, Tensor col, in ConvGeom g, int n0, int nc) =>
        ViewKernel(GpuConvKernels.Im2Col, x, col, ConvShape.From(g, n0, nc), (long)g.K * nc * g.P);

    public override void Conv2d(in ConvGeom geom, Tensor x, Tensor w, Tensor? bias, Tensor y)
    {
        if (y.Size == 0) return;
        using var scope = TensorScope.Begin();
        int k = geom.K, p = geom.P;
        if (k == 0) Fill(y, 0f);
        else if (geom.IsPointwise) // x is already the column matrix of each image: [Cin, H·W]
            LaunchGemm(w, x, y, new GemmShape
            {
                M = geom.Cout, N = p, K = k, Lda = k, Ldb = p, Ldc = p, Batch = geom.N, StrideB = (long)k * p, StrideC = (long)geom.Cout * p, Alpha = 1f,
            });
        else
        {
            int chunk = ChunkImages(geom);
            var col = Tensor.Empty(Dev, k * chunk * p);
            for (int n0 = 0; n0 < geom.N; n0 += chunk)
            {
                int nc = Math.Min(chunk, geom.N - n0);
                Im2Col(x, col, geom, n0, nc);
                // y[n] [Cout, P] = W [Cout, K] · col[:, n, :] (row stride Nc·P, image n at column n·P)
                LaunchGemm(w, col, y, new GemmShape
                {
                    M = geom.Cout, N = p, K = k, Lda = k, Ldb = nc * p, Ldc = p, Batch = nc, StrideB = p, StrideC = (long)geom.Cout * p,
                    OffC = (long)n0 * geom.Cout * p, Alpha = 1f,
                });
            }
        }
        if (bias is not null)
        {
            var l = L(y.Size, i0: geom.Cout, i1: p);
            Launcher(GpuConvKernels.AddChannelBias)(l.Threads, V(y), V(bias), l);
        }
    }

    public override void Conv2dBackward(in ConvGeom geom, Tensor x, Tensor w, Tensor g, Tensor? dx, Tensor? dw, Tensor? db)
    {
        if (geom.N == 0 || geom.P == 0 || geom.Cout == 0)
        {
            foreach (var t in new[] { dx, dw, db }) if (t is not null) Fill(t, 0f);
            return;
        }
        if (db is not null)
        {
            var l = L(geom.Cout, i0: geom.N, i1: geom.P);
            Launcher(GpuConvKernels.ChannelSums)(l.Threads, V(g), V(db), l);
        }
        int k = geom.K, p = geom.P;
        if (k == 0 || (dx is null && dw is null)) return; // no input channels: dx and dw are empty
        using var scope = TensorScope.Begin();
        int chunk = ChunkImages(geom);
        var gt = Tensor.Empty(Dev, geom.Cout * chunk * p);
        var col = Tensor.Empty(Dev, k * chunk * p); // the column matrix for dw, then dcol for dx
        for (int n0 = 0; n0 < geom.N; n0 += chunk)
        {
            int nc = Math.Min(chunk, geom.N - n0), cols = nc * p;
            var c = ConvShape.From(geom, n0, nc);
            ViewKernel(GpuConvKernels.GradToColumns, g, gt, c, (long)geom.Cout * cols);
            if (dw is not null)
            {
                Im2Col(x, col, geom, n0, nc);
                Gemm(false, true, geom.Cout, k, cols, 1f, gt, 0, cols, col, 0, cols, n0 == 0 ? 0f : 1f, dw, 0, k);
            }
            if (dx is not null)
            {
                Gemm(true, false, k, cols, geom.Cout, 1f, w, 0, k, gt, 0, cols, 0f, col, 0, cols);
                ViewKernel(GpuConvKernels.Col2Im, col, dx, c, (long)nc * geom.Cin * geom.H * geom.W);
            }
        }
    }
}
