using ILGPU;

namespace Crt.Tensors.Backends.Ilgpu;

/// <summary>
/// torch.gather's kernels for the GPU backend: element offsets into x, computed on the host by the op. The backward
/// adds g into dx at those offsets, where several elements may share one offset; rather than float atomics (whose
/// order, and so whose rounding, varies from run to run), the host groups the offsets by target (see
/// <c>IlgpuKernelTable.ScatterAddOffsets</c>) and one thread per distinct target adds its sources in index order.
/// </summary>
internal static class GpuGatherKernels
{
    /// <summary>y[i] = x[offsets[i]].</summary>
    public static void GatherOffsets(Index1D t, ArrayView<float> x, ArrayView<int> offsets, ArrayView<float> y, Launch p)
    {
        for (int i = t; i < p.N; i += p.Threads) y[i] = x[offsets[i]];
    }

    /// <summary>
    /// dx[target[u]] += Σ g[source[k]] for k in [start[u], start[u + 1]), one thread per distinct target u (N = targets).
    /// plan = [targets (N), starts (N + 1), sources].
    /// </summary>
    public static void ScatterAddGrouped(Index1D t, ArrayView<float> g, ArrayView<int> plan, ArrayView<float> dx, Launch p)
    {
        int starts = p.N, sources = 2 * p.N + 1;
        for (int u = t; u < p.N; u += p.Threads)
        {
            float s = 0f;
            for (int k = plan[starts + u]; k < plan[starts + u + 1]; k++) s += g[plan[sources + k]];
            dx[plan[u]] += s;
        }
    }
}
