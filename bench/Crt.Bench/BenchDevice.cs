using Crt.Tensors;

namespace Crt.Bench;

/// <summary>
/// Where the whole-workload benchmarks (W1–W5) run, and how much larger their batches are (a GPU needs larger ones
/// to be busy): `Crt.Bench NAME --device cuda --batch-scale 8`. The kernel benchmarks always run on the CPU.
/// </summary>
public static class BenchDevice
{
    public static Device Current { get; set; } = Device.Cpu;

    /// <summary>Multiplies W1–W5's batch sizes (1: the sizes the README's CPU tables use).</summary>
    public static int BatchScale { get; set; } = 1;
}
