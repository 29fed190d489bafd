namespace Crt.Tensors;

/// <summary>
/// Counts the floating-point operations of the matrix-product ops (MatMul, Linear, Conv2d, scaled
/// dot-product attention) run on this thread while it is active — the quantities compute accounting
/// is made of (elementwise ops and norms are left out, as in the scaling-law literature). A
/// multiply-add counts as 2. Attention counts both products in full (4·Tq·Tk·D per head), causal or
/// not. Backward passes are not counted: a training step is taken as 3× its forward.
/// </summary>
public sealed class FlopCounter : IDisposable
{
    [ThreadStatic] private static FlopCounter? _current;
    private readonly FlopCounter? _outer;
    private bool _disposed;

    public double Flops { get; private set; }

    private FlopCounter(FlopCounter? outer) => _outer = outer;

    /// <summary>Starts counting on this thread until the returned counter is disposed (counters nest; the outer one sees the inner's work too).</summary>
    public static FlopCounter Begin() => _current = new FlopCounter(_current);

    internal static void Add(double flops)
    {
        for (var c = _current; c is not null; c = c._outer) c.Flops += flops;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _current = _outer;
    }
}
