using Crt.Tensors.Kernels.Cpu;

namespace Crt.Tensors;

/// <summary>
/// A promise, for the scope's lifetime on this thread, that some tensors (a model's weights while it samples) do not
/// change. The CPU's matrix products that multiply by one of them as B (a linear layer's weight) then pack it once
/// and reuse it, instead of packing it again at every product: decoding runs one product per layer per token, over
/// a few rows. The results are bit-identical to the products without the scope (<see cref="Gemm.SgemmPackedB"/>).
/// Packed copies take as much memory as the weights; beyond <see cref="BudgetBytes"/> products pack as before.
/// Tensors on another device, and products that take the direct path, are left alone.
/// </summary>
public sealed class FrozenWeights : IDisposable
{
    /// <summary>Packed bytes one scope may hold unless told otherwise (a 343M-parameter GPT-L's weights take 1.4 GB).</summary>
    public const long DefaultBudgetBytes = 2L << 30;

    [ThreadStatic] private static FrozenWeights? t_current;

    private readonly FrozenWeights? _outer;
    private readonly HashSet<Tensor> _weights = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<(Tensor B, bool TransB, int Ldb, int N, int K), Gemm.PackedB> _packed = new();
    private bool _disposed;

    public long BudgetBytes { get; }

    /// <summary>Bytes of packed copies held now.</summary>
    public long PackedBytes { get; private set; }

    /// <summary>How many packed copies were made and how many products reused one (for tests and profiles).</summary>
    public int Packs { get; private set; }
    public int Reuses { get; private set; }

    private FrozenWeights(IEnumerable<Tensor> weights, long budgetBytes)
    {
        BudgetBytes = budgetBytes;
        foreach (var w in weights) _weights.Add(w);
        _outer = t_current;
        t_current = this;
    }

    /// <summary>Opens a scope on this thread in which <paramref name="weights"/> are promised not to change.</summary>
    public static FrozenWeights Begin(IEnumerable<Tensor> weights, long budgetBytes = DefaultBudgetBytes) => new(weights, budgetBytes);

    /// <summary>
    /// B packed for this product, or null where the product should pack as usual: no scope, B not a frozen weight (or a
    /// slice of one), a product on the direct path, or the budget spent.
    /// </summary>
    internal static Gemm.PackedB? Find(Tensor b, int bOffset, bool transB, int ldb, int m, int n, int k, float alpha)
    {
        var scope = t_current;
        if (scope is null || bOffset != 0 || alpha == 0f || !Gemm.PacksB(m, n, k)) return null;
        for (; scope is not null; scope = scope._outer)
        {
            if (!scope._weights.Contains(b)) continue;
            var key = (b, transB, ldb, n, k);
            if (scope._packed.TryGetValue(key, out var packed) && ReferenceEquals(packed.Config, Gemm.Current))
            {
                scope.Reuses++;
                return packed;
            }
            long need = ((long)k * n + 16) * sizeof(float);
            if (scope.PackedBytes + need > scope.BudgetBytes) return null;
            if (packed is not null) // packed under another configuration (a test switched widths)
            {
                scope.PackedBytes -= packed.Bytes;
                Gemm.ReturnPackedB(packed);
            }
            packed = Gemm.PackAllOfB(transB, b.ReadOnlySpan, ldb, n, k);
            scope._packed[key] = packed;
            scope.PackedBytes += packed.Bytes;
            scope.Packs++;
            return packed;
        }
        return null;
    }

    public void Dispose()
    {
        if (_disposed) return;
        if (!ReferenceEquals(t_current, this))
            throw new InvalidOperationException("FrozenWeights: scopes must end in the reverse order they began, on the thread that began them");
        _disposed = true;
        t_current = _outer;
        foreach (var packed in _packed.Values) Gemm.ReturnPackedB(packed);
        _packed.Clear();
        PackedBytes = 0;
    }
}
