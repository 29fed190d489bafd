using Crt.Tensors.Kernels.Cpu;

namespace Crt.Tensors.Backends;

/// <summary>Pointwise functions of one tensor (forward, and the matching backward in <see cref="KernelTable.UnaryBackward"/>).</summary>
public enum UnaryOp
{
    /// <summary>x + p.</summary>
    AddScalar,
    /// <summary>x · p.</summary>
    MulScalar,
    Exp,
    Log,
    Sqrt,
    Square,
    Abs,
    /// <summary>x^p.</summary>
    Pow,
    /// <summary>min(max(x, p), q).</summary>
    Clamp,
    Silu,
    Sigmoid,
    Tanh,
    /// <summary>x for x ≥ 0, p·x below (ReLU at p = 0).</summary>
    LeakyRelu,
    /// <summary>The exact (erf) GELU.</summary>
    Gelu,
    /// <summary>GELU's tanh approximation.</summary>
    GeluTanh,
}

/// <summary>
/// The seam between ops and devices (design.md: "the op decides what, the device's kernel table decides how"). An op
/// checks shapes, allocates its outputs on its inputs' device, counts FLOPs and records its backward; every loop over
/// tensor storage happens here, in the table of the device the tensors live on. <see cref="Cpu.CpuKernelTable"/> runs
/// the SIMD kernels of <c>Kernels/Cpu</c>; a GPU backend implements the same entries with its own kernels.
///
/// Entries take tensors, not spans, because only the backend knows where the storage is. Every entry a backend does
/// not implement throws <see cref="NotSupportedException"/> naming the entry and the device: no op silently falls back
/// to another device. Backward entries that need what the forward computed (a norm's statistics, cross-entropy's
/// log-sum-exp, max-pool's argmax) receive the opaque object their forward returned.
/// </summary>
public abstract class KernelTable
{
    /// <summary>The device whose kernels these are (named in errors).</summary>
    public abstract string DeviceName { get; }

    /// <summary>The exception for an entry this backend lacks.</summary>
    protected NotSupportedException Missing(string entry) =>
        new($"{entry}: no kernel for device {DeviceName} (this backend does not implement it yet; run on the CPU, or move the tensors with To(Device.Cpu))");

    // ---- memory ---------------------------------------------------------------------------------
    public virtual void Fill(Tensor y, float value) => throw Missing("fill");
    public virtual void Copy(Tensor src, Tensor dst) => throw Missing("copy");
    /// <summary>acc += x (same shapes): gradient accumulation.</summary>
    public virtual void AddInPlace(Tensor acc, Tensor x) => throw Missing("add_");

    // ---- elementwise ----------------------------------------------------------------------------
    /// <summary>y = a op b, NumPy broadcasting to y's shape.</summary>
    public virtual void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y) => throw Missing(op.ToString().ToLowerInvariant());
    /// <summary>Sums a broadcast gradient <paramref name="g"/> down to <paramref name="r"/>'s shape.</summary>
    public virtual void ReduceTo(Tensor g, Tensor r) => throw Missing("sum_to_size");
    /// <summary>y = f(x); <paramref name="p"/> and <paramref name="q"/> are the parameters <see cref="UnaryOp"/> names.</summary>
    public virtual void Unary(UnaryOp op, Tensor x, Tensor y, float p = 0, float q = 0) => throw Missing(op.ToString().ToLowerInvariant());
    /// <summary>dx = g · f'(x), given the forward's input <paramref name="x"/> and output <paramref name="y"/>.</summary>
    public virtual void UnaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor g, Tensor dx, float p = 0, float q = 0) =>
        throw Missing(op.ToString().ToLowerInvariant() + "_backward");
    /// <summary>mask = 1/(1−p) with probability 1−p, else 0, drawn from <paramref name="rng"/>.</summary>
    public virtual void DropoutMask(Tensor mask, float p, Rng rng) => throw Missing("dropout");

    // ---- reductions -----------------------------------------------------------------------------
    /// <summary>y[0] = scale · Σx (accumulated in double on the CPU).</summary>
    public virtual void SumAll(Tensor x, float scale, Tensor y) => throw Missing("sum");
    /// <summary>Σx² (a host value: gradient clipping reads it).</summary>
    public virtual double SumOfSquares(Tensor x) => throw Missing("sum_of_squares");
    /// <summary>x viewed as [outer, n, inner]: y[o, i] = scale · Σ_j x[o, j, i].</summary>
    public virtual void SumAxis(Tensor x, int outer, int n, int inner, float scale, Tensor y) => throw Missing("sum_axis");
    /// <summary>dx[o, j, i] = scale · g[o, i].</summary>
    public virtual void ExpandAxis(Tensor g, int outer, int n, int inner, float scale, Tensor dx) => throw Missing("expand_axis");
    /// <summary>y[o, i] = max_j x[o, j, i]; returns the argmax for <see cref="MaxAxisBackward"/>.</summary>
    public virtual object MaxAxis(Tensor x, int outer, int n, int inner, Tensor y) => throw Missing("max");
    /// <summary>dx (zeroed by the caller) += g at each argmax.</summary>
    public virtual void MaxAxisBackward(object saved, Tensor g, int outer, int n, int inner, Tensor dx) => throw Missing("max_backward");
    /// <summary>Indices of the maxima (minima) along the middle axis, as a host array.</summary>
    public virtual int[] ArgExtreme(Tensor x, int outer, int n, int inner, bool min) => throw Missing(min ? "argmin" : "argmax");

    // ---- layout ---------------------------------------------------------------------------------
    public virtual void Permute(Tensor x, int[] dims, Tensor y) => throw Missing("permute");
    /// <summary>y = x[:, start:start+len, :] with x viewed as [outer, n, inner].</summary>
    public virtual void SliceAxis(Tensor x, int outer, int n, int inner, int start, int len, Tensor y) => throw Missing("slice");
    /// <summary>x[:, start:start+len, :] += y.</summary>
    public virtual void AddIntoSlice(Tensor y, int outer, int n, int inner, int start, int len, Tensor x) => throw Missing("slice_backward");
    /// <summary>x[:, start:start+len, :] = y (concatenation).</summary>
    public virtual void CopyIntoSlice(Tensor y, int outer, int n, int inner, int start, int len, Tensor x) => throw Missing("concat");
    /// <summary>y[o, j, :] = x[o, index[j], :].</summary>
    public virtual void IndexSelect(Tensor x, int outer, int n, int inner, int[] index, Tensor y) => throw Missing("index_select");
    /// <summary>dx[o, index[j], :] += g[o, j, :].</summary>
    public virtual void IndexSelectBackward(Tensor g, int outer, int n, int inner, int[] index, Tensor dx) => throw Missing("index_select_backward");
    /// <summary>y[i] = x[offsets[i]].</summary>
    public virtual void GatherOffsets(Tensor x, int[] offsets, Tensor y) => throw Missing("gather");
    /// <summary>dx[offsets[i]] += g[i].</summary>
    public virtual void ScatterAddOffsets(Tensor g, int[] offsets, Tensor dx) => throw Missing("gather_backward");

    // ---- matrix products --------------------------------------------------------------------------
    /// <summary>C = alpha·op(A)·op(B) + beta·C on row-major matrices starting at the given element offsets.</summary>
    public virtual void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Tensor a, int aOffset, int lda,
        Tensor b, int bOffset, int ldb, float beta, Tensor c, int cOffset, int ldc) => throw Missing("gemm");
    /// <summary><paramref name="batch"/> products with element strides between them (a stride of 0 shares the operand).</summary>
    public virtual void GemmBatched(bool transA, bool transB, int batch, int m, int n, int k, float alpha, Tensor a, int lda, long strideA,
        Tensor b, int ldb, long strideB, float beta, Tensor c, int ldc, long strideC) => throw Missing("gemm_batched");
    /// <summary>C = op(A)·op(B) + bias (a row vector added to every row).</summary>
    public virtual void GemmBias(bool transA, bool transB, int m, int n, int k, Tensor a, int lda, Tensor b, int ldb, Tensor bias, Tensor c, int ldc) =>
        throw Missing("gemm_bias");
    /// <summary>dst[j] = Σ_r src[r, j] (a linear layer's bias gradient).</summary>
    public virtual void ColumnSums(Tensor src, int rows, int cols, Tensor dst) => throw Missing("column_sums");

    // ---- softmax and losses -----------------------------------------------------------------------
    public virtual void Softmax(Tensor x, Tensor y, int outer, int n, int inner, bool log) => throw Missing(log ? "log_softmax" : "softmax");
    public virtual void SoftmaxBackward(Tensor y, Tensor g, Tensor dx, int outer, int n, int inner, bool log) =>
        throw Missing(log ? "log_softmax_backward" : "softmax_backward");
    /// <summary>
    /// Cross-entropy of logits [N, C] against targets (validated by the op). With <paramref name="mean"/>, y is a scalar:
    /// the mean over rows whose target is not <paramref name="ignoreIndex"/> (NaN when there are none); otherwise y is [N]
    /// with each row's loss. Returns what <see cref="CrossEntropyBackward"/> needs.
    /// </summary>
    public virtual object CrossEntropy(Tensor logits, int[] targets, int ignoreIndex, bool mean, Tensor y) => throw Missing("cross_entropy");
    /// <summary>dl = ∂loss/∂logits scaled by g (a scalar with <paramref name="mean"/>, else one value per row).</summary>
    public virtual void CrossEntropyBackward(object saved, Tensor logits, Tensor g, bool mean, Tensor dl) => throw Missing("cross_entropy_backward");
    /// <summary>diff = p − t and y[0] = mean of diff² (<paramref name="squared"/>) or |diff|.</summary>
    public virtual void PairLoss(Tensor p, Tensor t, bool squared, Tensor diff, Tensor y) => throw Missing(squared ? "mse_loss" : "l1_loss");
    /// <summary>dp = g·2·diff/N (squared) or g·sign(diff)/N.</summary>
    public virtual void PairLossBackward(Tensor diff, Tensor g, bool squared, Tensor dp) => throw Missing(squared ? "mse_loss_backward" : "l1_loss_backward");

    // ---- normalization ----------------------------------------------------------------------------
    /// <summary>GroupNorm (and swish) of x [N, C, S]; returns the statistics for the backward.</summary>
    public virtual object GroupNorm(Tensor x, int n, int c, int s, int groups, Tensor? weight, Tensor? bias, float eps, bool swish, Tensor y) =>
        throw Missing(swish ? "group_norm_silu" : "group_norm");
    /// <summary>Gradients of <see cref="GroupNorm"/>; dx is added into when <paramref name="accumulate"/>; absent outputs are null.</summary>
    public virtual void GroupNormBackward(object saved, Tensor x, Tensor g, int n, int c, int s, int groups, Tensor? weight, Tensor? bias, bool swish,
        Tensor? dx, Tensor? dw, Tensor? db, bool accumulate) => throw Missing("group_norm_backward");
    /// <summary>LayerNorm (or RMSNorm) over the last dim of x [rows, d]; returns the statistics for the backward.</summary>
    public virtual object RowNorm(Tensor x, int rows, int d, Tensor? weight, Tensor? bias, float eps, bool rms, Tensor y) =>
        throw Missing(rms ? "rms_norm" : "layer_norm");
    public virtual void RowNormBackward(object saved, Tensor x, Tensor g, int rows, int d, Tensor? weight, bool rms,
        Tensor? dx, Tensor? dw, Tensor? db, bool accumulate) => throw Missing(rms ? "rms_norm_backward" : "layer_norm_backward");
    /// <summary>BatchNorm2d of x [N, C, H·W] (updating the running statistics when training); returns what the backward needs.</summary>
    public virtual object BatchNorm(Tensor x, int n, int c, int s, Tensor? weight, Tensor? bias, Tensor runningMean, Tensor runningVar,
        bool training, float momentum, float eps, Tensor y) => throw Missing("batch_norm");
    public virtual void BatchNormBackward(object saved, Tensor x, Tensor g, int n, int c, int s, Tensor? weight, bool training,
        Tensor? dx, Tensor? dw, Tensor? db) => throw Missing("batch_norm_backward");
    /// <summary>y = x / max(‖x‖₂, eps) along the middle axis of [outer, n, inner]; returns the norms.</summary>
    public virtual object L2Normalize(Tensor x, int outer, int n, int inner, float eps, Tensor y) => throw Missing("l2_normalize");
    public virtual void L2NormalizeBackward(object saved, Tensor g, Tensor y, Tensor x, int outer, int n, int inner, float eps, Tensor dx) =>
        throw Missing("l2_normalize_backward");

    // ---- attention ----------------------------------------------------------------------------------
    /// <summary>Attention of q [BH, Tq, D] over keys and values [BH, Tk, D] (heads <paramref name="kvStride"/> elements apart,
    /// 0 = Tk·D); writes o and each query's log-sum-exp.</summary>
    public virtual void Attention(Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, int bh, int tq, int tk, int d, bool causal, float scale,
        long kvStride = 0) => throw Missing("scaled_dot_product_attention");
    public virtual void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, Tensor g, Tensor dq, Tensor dk, Tensor dv,
        int bh, int tq, int tk, int d, bool causal, float scale) => throw Missing("scaled_dot_product_attention_backward");
    /// <summary>Inference attention over the first <paramref name="length"/> positions of KV-cache stores [B, H, capacity, D].</summary>
    public virtual void AttentionPrefix(Tensor q, Tensor kStore, Tensor vStore, Tensor o, int bh, int tq, int length, int d, int capacity,
        bool causal, float scale) => throw Missing("scaled_dot_product_attention_prefix");
    /// <summary>Rotary embedding of x [B, T, H, D] with the table [T, D/2, 2] (its inverse rotation for the backward).</summary>
    public virtual void Rotary(Tensor x, Tensor table, Tensor y, int b, int t, int h, int d, bool inverse) => throw Missing("apply_rotary_emb");

    // ---- embedding ----------------------------------------------------------------------------------
    /// <summary>y[i, :] = table[indices[i], :].</summary>
    public virtual void GatherRows(Tensor table, int d, int[] indices, Tensor y) => throw Missing("embedding");
    /// <summary>table[indices[i], :] += g[i, :].</summary>
    public virtual void ScatterAddRows(Tensor g, int d, int[] indices, Tensor table) => throw Missing("embedding_backward");

    // ---- convolution, pooling, resizing -----------------------------------------------------------
    public virtual void Conv2d(in ConvGeom geom, Tensor x, Tensor w, Tensor? bias, Tensor y) => throw Missing("conv2d");
    /// <summary>Gradients of <see cref="Conv2d"/> (each written, not added); absent outputs are null.</summary>
    public virtual void Conv2dBackward(in ConvGeom geom, Tensor x, Tensor w, Tensor g, Tensor? dx, Tensor? dw, Tensor? db) => throw Missing("conv2d_backward");
    public virtual void UpsampleNearest2x(Tensor x, Tensor y, int planes, int h, int w) => throw Missing("upsample_nearest2x");
    public virtual void UpsampleNearest2xBackward(Tensor g, Tensor dx, int planes, int h, int w) => throw Missing("upsample_nearest2x_backward");
    /// <summary>Pads (or, with negative offsets, crops) each [h, w] plane into [ho, wo], filling with <paramref name="value"/>.</summary>
    public virtual void Pad2d(Tensor x, Tensor y, int planes, int h, int w, int ho, int wo, int top, int left, float value) => throw Missing("pad2d");
    public virtual object MaxPool(Tensor x, int planes, int h, int w, int kernel, int stride, int padding, int ho, int wo, Tensor y) => throw Missing("max_pool2d");
    /// <summary>dx (zeroed by the caller) += g at each window's argmax.</summary>
    public virtual void MaxPoolBackward(object saved, Tensor g, int planes, int planeIn, int planeOut, Tensor dx) => throw Missing("max_pool2d_backward");
    public virtual void AvgPool(Tensor x, int planes, int h, int w, int kernel, int stride, int padding, bool countIncludePad, int ho, int wo, Tensor y) =>
        throw Missing("avg_pool2d");
    /// <summary>dx (zeroed by the caller) += each window's share of g.</summary>
    public virtual void AvgPoolBackward(Tensor g, int planes, int h, int w, int kernel, int stride, int padding, bool countIncludePad, int ho, int wo, Tensor dx) =>
        throw Missing("avg_pool2d_backward");
    public virtual void ResizeBilinear(Tensor x, int planes, int h, int w, BilinearResize.Taps rows, BilinearResize.Taps cols, Tensor y) =>
        throw Missing("resize_bilinear");
    public virtual void ResizeBilinearBackward(Tensor g, int planes, int h, int w, BilinearResize.Taps rows, BilinearResize.Taps cols, Tensor dx) =>
        throw Missing("resize_bilinear_backward");

    // ---- optimizers ---------------------------------------------------------------------------------
    /// <summary>One Adam(W) update of p in place, with moments m and v (tensors on this device, p's shape).</summary>
    public virtual void AdamStep(Tensor p, Tensor grad, Tensor m, Tensor v, in AdamStepArgs args) => throw Missing("adam_step");
    /// <summary>a += t·(b − a) in place (an EMA's update).</summary>
    public virtual void LerpInPlace(Tensor a, Tensor b, float t) => throw Missing("lerp_");
}
