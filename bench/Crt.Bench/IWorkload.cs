namespace Crt.Bench;

/// <summary>
/// One benchmark workload. Its name must match the PyTorch twin in bench/torch_workloads/ so the
/// two are timed side by side. Setup builds inputs once; Run is the timed body (one iteration).
/// </summary>
public interface IWorkload
{
    string Name { get; }
    /// <summary>Floating-point operations per Run, for a GFLOP/s column (0 when not meaningful).</summary>
    double Flops { get; }
    void Setup();
    void Run();
}
