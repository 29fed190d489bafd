using Crt.Tensors;

namespace Crt.Bench.Workloads;

/// <summary>Elementwise add of two [32, 64, 32, 32] tensors, forward only (a floor for op overhead).</summary>
public sealed class AddWorkload : IWorkload
{
    private Tensor _a = null!, _b = null!;
    public string Name => "add-32x64x32x32";
    public double Flops => 32.0 * 64 * 32 * 32;
    public void Setup() { var r = new Rng(0); _a = r.Normal(new[] { 32, 64, 32, 32 }); _b = r.Normal(new[] { 32, 64, 32, 32 }); }
    public void Run() => Ops.Add(_a, _b);
}
