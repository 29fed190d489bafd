using ILGPU;
using ILGPU.Runtime;

namespace Crt.Tensors.Backends.Ilgpu;

/// <summary>The ILGPU device's dropout masks (<see cref="GpuRandom"/>) and torch.gather by offsets (<see cref="GpuGatherKernels"/>).</summary>
internal sealed partial class IlgpuKernelTable
{
    public override void DropoutMask(Tensor mask, float p, Rng rng)
    {
        var (k0, k1) = rng.NextCounterKey(); // drawn even for an empty mask, so the stream does not depend on sizes
        if (mask.Size == 0) return;
        var l = L(mask.Size, p: p, q: p >= 1f ? 0f : 1f / (1f - p), i0: unchecked((int)k0), i1: unchecked((int)k1));
        Launcher(GpuRandom.DropoutMask)(l.Threads, V(mask), l);
    }

    public override void GatherOffsets(Tensor x, int[] offsets, Tensor y)
    {
        if (offsets.Length == 0) return;
        var l = L(offsets.Length);
        Launcher(GpuGatherKernels.GatherOffsets)(l.Threads, V(x), IntView(Ints(offsets)), V(y), l);
    }

    public override void ScatterAddOffsets(Tensor g, int[] offsets, Tensor dx)
    {
        if (offsets.Length == 0) return;
        var plan = ScatterPlan(offsets, out int targets);
        var l = L(targets);
        Launcher(GpuGatherKernels.ScatterAddGrouped)(l.Threads, V(g), IntView(Ints(plan)), V(dx), l);
    }

    /// <summary>
    /// The offsets grouped by target, for <see cref="GpuGatherKernels.ScatterAddGrouped"/>: [distinct targets, their
    /// starts (one more), the source indices of each target in increasing order]. Sorting (offset, index) pairs keeps each
    /// target's sources in the order the CPU adds them.
    /// </summary>
    private static int[] ScatterPlan(int[] offsets, out int targets)
    {
        int m = offsets.Length;
        var keys = new long[m];
        for (int i = 0; i < m; i++) keys[i] = (long)offsets[i] << 32 | (uint)i;
        Array.Sort(keys);
        targets = 1;
        for (int i = 1; i < m; i++) if (keys[i] >> 32 != keys[i - 1] >> 32) targets++;
        var plan = new int[2 * targets + 1 + m];
        int u = -1;
        for (int i = 0; i < m; i++)
        {
            int offset = (int)(keys[i] >> 32);
            if (i == 0 || offset != plan[u]) { u++; plan[u] = offset; plan[targets + u] = i; }
            plan[2 * targets + 1 + i] = (int)(uint)keys[i];
        }
        plan[2 * targets] = m;
        return plan;
    }
}
