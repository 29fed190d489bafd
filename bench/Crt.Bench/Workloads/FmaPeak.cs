using Crt.Tensors.Kernels.Cpu;

namespace Crt.Bench.Workloads;

/// <summary>
/// The multiply-add peak at the SIMD width in force (<see cref="FmaPeak"/>: 12 register-held chains per kernel
/// thread, no memory traffic). A GEMM's GFLOP/s over this one's is its fraction of peak. No PyTorch twin.
/// </summary>
public sealed class FmaPeakWorkload : IWorkload
{
    private const int Iterations = 1 << 21; // per thread: ~10 ms at 100 GFLOP/s per core with 256-bit vectors
    private readonly float[] _sink = new float[64];

    public string Name => "fma-peak";
    public double Flops => FmaPeak.FlopsPerThread(Iterations) * Par.Threads;
    public void Setup() { }
    public void Run() => Par.For(Par.Threads, long.MaxValue / 64, t => _sink[t % 64] = FmaPeak.RunOneThread(Iterations));
}
