namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Reductions over one axis of a tensor viewed as [outer, n, inner]: the reduced axis has length n,
/// inner is the product of the dims after it.
/// </summary>
public static class Reduce
{
    public static void SumAxis(ReadOnlySpan<float> x, int outer, int n, int inner, Span<float> y)
    {
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++) y[o] = (float)Broadcast.SumDouble(x.Slice(o * n, n));
            return;
        }
        y.Clear();
        for (int o = 0; o < outer; o++)
        {
            var dst = y.Slice(o * inner, inner);
            for (int j = 0; j < n; j++) Elementwise.AddInPlace(dst, x.Slice((o * n + j) * inner, inner));
        }
    }

    /// <summary>g [outer, inner] spread over x [outer, n, inner], scaled.</summary>
    public static void ExpandAxis(ReadOnlySpan<float> g, int outer, int n, int inner, float scale, Span<float> dx)
    {
        for (int o = 0; o < outer; o++)
        {
            var src = g.Slice(o * inner, inner);
            for (int j = 0; j < n; j++)
            {
                var dst = dx.Slice((o * n + j) * inner, inner);
                if (scale == 1f) src.CopyTo(dst); else Simd.Map(new WithRight<MulOp>(scale), src, dst);
            }
        }
    }

    /// <summary>Max and its index over the axis; NaN propagates (as in PyTorch).</summary>
    public static void MaxAxis(ReadOnlySpan<float> x, int outer, int n, int inner, Span<float> y, Span<int> arg, bool min = false)
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int best = 0;
                float bv = x[o * n * inner + i];
                for (int j = 1; j < n && !float.IsNaN(bv); j++)
                {
                    float v = x[(o * n + j) * inner + i];
                    if (float.IsNaN(v) || (min ? v < bv : v > bv)) { bv = v; best = j; }
                }
                y[o * inner + i] = bv;
                arg[o * inner + i] = best;
            }
    }
}
