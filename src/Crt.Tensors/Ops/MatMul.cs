using Crt.Tensors.Kernels.Cpu;

namespace Crt.Tensors;

/// <summary>Matrix products on the packed GEMM; backward passes use its transpose flags, never explicit transposes.</summary>
public static partial class Ops
{
    /// <summary>a [..., m, k] · b [..., k, n] (2-D, or batched with equal batch dims; b may be 2-D and shared across a's batch).</summary>
    /// <remarks>a may also be 2-D and shared across b's batch. Result: [..batch, m, n].</remarks>
    public static Tensor MatMul(Tensor a, Tensor b)
    {
        Device.Common("matmul", a, b);
        string Shapes() => $"matmul: {ShapeUtil.Format(a.Shape)} x {ShapeUtil.Format(b.Shape)}";
        if (a.Rank < 2 || b.Rank < 2) throw new ArgumentException($"{Shapes()}: both operands need at least 2 dimensions");
        int m = a.Shape[^2], k = a.Shape[^1], kb = b.Shape[^2], n = b.Shape[^1];
        if (k != kb) throw new ArgumentException($"{Shapes()}: inner sizes differ");
        int[] batchShape;
        if (a.Rank > 2 && b.Rank > 2)
        {
            if (!a.Shape.AsSpan(0, a.Rank - 2).SequenceEqual(b.Shape.AsSpan(0, b.Rank - 2)))
                throw new ArgumentException($"{Shapes()}: batch dims differ");
            batchShape = a.Shape[..^2];
        }
        else batchShape = a.Rank > 2 ? a.Shape[..^2] : b.Shape[..^2];
        int batch = ShapeUtil.Numel(batchShape);
        var y = Tensor.Empty([.. batchShape, m, n]);
        bool aBatched = a.Rank > 2, bBatched = b.Rank > 2;

        if (!bBatched)
            // Shared b: the batch folds into the rows of one product.
            Gemm.Sgemm(false, false, batch * m, n, k, 1f, a.ReadOnlySpan, Ld(k), b.ReadOnlySpan, Ld(n), 0f, y.Span, Ld(n));
        else
            Gemm.SgemmBatched(false, false, batch, m, n, k, 1f, a.ReadOnlySpan, Ld(k), aBatched ? m * k : 0,
                b.ReadOnlySpan, Ld(n), k * n, 0f, y.Span, Ld(n), m * n);

        FlopCounter.Add(2.0 * batch * m * n * k);
        return Tensor.Record("matmul", y, new[] { a, b }, g =>
        {
            if (a.RequiresGrad)
            {
                // dA = dC · Bᵀ
                var ga = Tensor.Empty(a.Shape);
                if (!bBatched)
                    Gemm.Sgemm(false, true, batch * m, k, n, 1f, g.ReadOnlySpan, Ld(n), b.ReadOnlySpan, Ld(n), 0f, ga.Span, Ld(k));
                else if (aBatched)
                    Gemm.SgemmBatched(false, true, batch, m, k, n, 1f, g.ReadOnlySpan, Ld(n), m * n,
                        b.ReadOnlySpan, Ld(n), k * n, 0f, ga.Span, Ld(k), m * k);
                else if (batch == 0) ga.Span.Clear();
                else // shared a: sum the per-batch products
                    for (int i = 0; i < batch; i++)
                        Gemm.Sgemm(false, true, m, k, n, 1f, g.ReadOnlySpan.Slice(i * m * n, m * n), Ld(n),
                            b.ReadOnlySpan.Slice(i * k * n, k * n), Ld(n), i == 0 ? 0f : 1f, ga.Span, Ld(k));
                a.AccumulateGrad(ga);
            }
            if (b.RequiresGrad)
            {
                // dB = Aᵀ · dC
                var gb = Tensor.Empty(b.Shape);
                if (!bBatched)
                    Gemm.Sgemm(true, false, k, n, batch * m, 1f, a.ReadOnlySpan, Ld(k), g.ReadOnlySpan, Ld(n), 0f, gb.Span, Ld(n));
                else
                    Gemm.SgemmBatched(true, false, batch, k, n, m, 1f, a.ReadOnlySpan, Ld(k), aBatched ? m * k : 0,
                        g.ReadOnlySpan, Ld(n), m * n, 0f, gb.Span, Ld(n), k * n);
                b.AccumulateGrad(gb);
            }
        });
    }

    /// <summary>PyTorch's F.linear: x [..., in] · weightᵀ (weight [out, in]) + bias [out].</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        if (bias is null) Device.Common("linear", x, weight); else Device.Common("linear", x, weight, bias);
        if (weight.Rank != 2)
            throw new ArgumentException($"linear: weight {ShapeUtil.Format(weight.Shape)} must be 2-D [out, in]");
        int outF = weight.Shape[0], inF = weight.Shape[1];
        if (x.Rank < 1 || x.Shape[^1] != inF)
            throw new ArgumentException($"linear: x {ShapeUtil.Format(x.Shape)} x weight {ShapeUtil.Format(weight.Shape)}: in features differ (x's last dim must be {inF})");
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != outF))
            throw new ArgumentException($"linear: bias {ShapeUtil.Format(bias.Shape)} does not match weight {ShapeUtil.Format(weight.Shape)} (expected [{outF}])");
        int rows = inF == 0 ? ShapeUtil.Numel(x.Shape.AsSpan(0, x.Rank - 1)) : x.Size / inF;
        var y = Tensor.Empty([.. x.Shape[..^1], outF]);
        // y = x · Wᵀ + bias (the bias added as the GEMM stores its results: y is written once)
        if (bias is not null)
            Gemm.SgemmBias(false, true, rows, outF, inF, 1f, x.ReadOnlySpan, Ld(inF), weight.ReadOnlySpan, Ld(inF), bias.ReadOnlySpan, y.Span, Ld(outF));
        else
            Gemm.Sgemm(false, true, rows, outF, inF, 1f, x.ReadOnlySpan, Ld(inF), weight.ReadOnlySpan, Ld(inF), 0f, y.Span, Ld(outF));

        FlopCounter.Add(2.0 * rows * inF * outF);
        return Tensor.Record("linear", y, new[] { x, weight, bias }, g =>
        {
            if (x.RequiresGrad)
            {
                // dX = dY · W
                var gx = Tensor.Empty(x.Shape);
                Gemm.Sgemm(false, false, rows, inF, outF, 1f, g.ReadOnlySpan, Ld(outF), weight.ReadOnlySpan, Ld(inF), 0f, gx.Span, Ld(inF));
                x.AccumulateGrad(gx);
            }
            if (weight.RequiresGrad)
            {
                // dW = dYᵀ · X
                var gw = Tensor.Empty(weight.Shape);
                Gemm.Sgemm(true, false, outF, inF, rows, 1f, g.ReadOnlySpan, Ld(outF), x.ReadOnlySpan, Ld(inF), 0f, gw.Span, Ld(inF));
                weight.AccumulateGrad(gw);
            }
            if (bias is { RequiresGrad: true })
            {
                // db = column sums of dY
                var gb = Tensor.Zeros(outF);
                ColumnSums(g.ReadOnlySpan, rows, outF, gb.Span);
                bias.AccumulateGrad(gb);
            }
        });
    }

    /// <summary>A leading dimension for GEMM (at least 1, so empty matrices pass its checks).</summary>
    private static int Ld(int width) => Math.Max(1, width);

    /// <summary>dst[j] = Σ_r src[r·cols + j], summing blocks of rows in float32 vectors (dst must start zeroed).</summary>
    private static void ColumnSums(ReadOnlySpan<float> src, int rows, int cols, Span<float> dst)
    {
        for (int r = 0; r < rows; r++)
            System.Numerics.Tensors.TensorPrimitives.Add(dst, src.Slice(r * cols, cols), dst);
    }
}
