namespace Crt.Tensors;

/// <summary>Matrix products on the packed GEMM; backward passes use its transpose flags, never explicit transposes.</summary>
public static partial class Ops
{
    /// <summary>a [..., m, k] · b [..., k, n] (2-D, or batched with equal batch dims; b may be 2-D and shared across a's batch).</summary>
    /// <remarks>a may also be 2-D and shared across b's batch. Result: [..batch, m, n].</remarks>
    public static Tensor MatMul(Tensor a, Tensor b)
    {
        var device = Device.Common("matmul", a, b);
        var kt = device.Kernels;
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
        var y = Tensor.Empty(device, [.. batchShape, m, n]);
        bool aBatched = a.Rank > 2, bBatched = b.Rank > 2;

        if (!bBatched)
            // Shared b: the batch folds into the rows of one product.
            kt.Gemm(false, false, batch * m, n, k, 1f, a, 0, Ld(k), b, 0, Ld(n), 0f, y, 0, Ld(n));
        else
            kt.GemmBatched(false, false, batch, m, n, k, 1f, a, Ld(k), aBatched ? m * k : 0, b, Ld(n), k * n, 0f, y, Ld(n), m * n);

        FlopCounter.Add(2.0 * batch * m * n * k);
        return Tensor.Record("matmul", y, new[] { a, b }, g =>
        {
            if (a.RequiresGrad)
            {
                // dA = dC · Bᵀ
                var ga = a.EmptyLike();
                if (!bBatched)
                    kt.Gemm(false, true, batch * m, k, n, 1f, g, 0, Ld(n), b, 0, Ld(n), 0f, ga, 0, Ld(k));
                else if (aBatched)
                    kt.GemmBatched(false, true, batch, m, k, n, 1f, g, Ld(n), m * n, b, Ld(n), k * n, 0f, ga, Ld(k), m * k);
                else if (batch == 0) kt.Fill(ga, 0f);
                else // shared a: sum the per-batch products
                    for (int i = 0; i < batch; i++)
                        kt.Gemm(false, true, m, k, n, 1f, g, i * m * n, Ld(n), b, i * k * n, Ld(n), i == 0 ? 0f : 1f, ga, 0, Ld(k));
                a.AccumulateGrad(ga);
            }
            if (b.RequiresGrad)
            {
                // dB = Aᵀ · dC
                var gb = b.EmptyLike();
                if (!bBatched)
                    kt.Gemm(true, false, k, n, batch * m, 1f, a, 0, Ld(k), g, 0, Ld(n), 0f, gb, 0, Ld(n));
                else
                    kt.GemmBatched(true, false, batch, k, n, m, 1f, a, Ld(k), aBatched ? m * k : 0, g, Ld(n), m * n, 0f, gb, Ld(n), k * n);
                b.AccumulateGrad(gb);
            }
        });
    }

    /// <summary>PyTorch's F.linear: x [..., in] · weightᵀ (weight [out, in]) + bias [out].</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        var device = Device.Common("linear", x, weight, bias);
        var kt = device.Kernels;
        if (weight.Rank != 2)
            throw new ArgumentException($"linear: weight {ShapeUtil.Format(weight.Shape)} must be 2-D [out, in]");
        int outF = weight.Shape[0], inF = weight.Shape[1];
        if (x.Rank < 1 || x.Shape[^1] != inF)
            throw new ArgumentException($"linear: x {ShapeUtil.Format(x.Shape)} x weight {ShapeUtil.Format(weight.Shape)}: in features differ (x's last dim must be {inF})");
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != outF))
            throw new ArgumentException($"linear: bias {ShapeUtil.Format(bias.Shape)} does not match weight {ShapeUtil.Format(weight.Shape)} (expected [{outF}])");
        int rows = inF == 0 ? ShapeUtil.Numel(x.Shape.AsSpan(0, x.Rank - 1)) : x.Size / inF;
        var y = Tensor.Empty(device, [.. x.Shape[..^1], outF]);
        // y = x · Wᵀ + bias (the bias added as the GEMM stores its results: y is written once)
        if (bias is not null)
            kt.GemmBias(false, true, rows, outF, inF, x, Ld(inF), weight, Ld(inF), bias, y, Ld(outF));
        else
            kt.Gemm(false, true, rows, outF, inF, 1f, x, 0, Ld(inF), weight, 0, Ld(inF), 0f, y, 0, Ld(outF));

        FlopCounter.Add(2.0 * rows * inF * outF);
        return Tensor.Record("linear", y, new[] { x, weight, bias }, g =>
        {
            if (x.RequiresGrad)
            {
                // dX = dY · W
                var gx = x.EmptyLike();
                kt.Gemm(false, false, rows, inF, outF, 1f, g, 0, Ld(outF), weight, 0, Ld(inF), 0f, gx, 0, Ld(inF));
                x.AccumulateGrad(gx);
            }
            if (weight.RequiresGrad)
            {
                // dW = dYᵀ · X
                var gw = weight.EmptyLike();
                kt.Gemm(true, false, outF, inF, rows, 1f, g, 0, Ld(outF), x, 0, Ld(inF), 0f, gw, 0, Ld(inF));
                weight.AccumulateGrad(gw);
            }
            if (bias is { RequiresGrad: true })
            {
                // db = column sums of dY
                var gb = bias.EmptyLike();
                kt.ColumnSums(g, rows, outF, gb);
                bias.AccumulateGrad(gb);
            }
        });
    }

    /// <summary>A leading dimension for GEMM (at least 1, so empty matrices pass its checks).</summary>
    private static int Ld(int width) => Math.Max(1, width);
}
