using Crt.Tensors;
using Crt.Tensors.Optim;

namespace Crt.Bench.Workloads;

/// <summary>One AdamW step over 10M float parameters in 10 tensors of 1M (gradients fixed, state warm).</summary>
public sealed class AdamWStepWorkload : IWorkload
{
    private AdamW _opt = null!;
    public string Name => "adamw-step-10M";
    // Per element: decay, two moment updates, sqrt, divide, update ≈ 13 flops; memory-bound in practice.
    public double Flops => 13.0 * 10_000_000;

    public void Setup()
    {
        var rng = new Rng(0);
        var ps = new List<(string, Tensor)>();
        for (int i = 0; i < 10; i++)
        {
            var p = rng.Normal(new[] { 1000, 1000 });
            p.RequiresGrad = true;
            p.Grad = rng.Normal(new[] { 1000, 1000 }, 0, 0.01f);
            ps.Add(($"p{i}", p));
        }
        _opt = new AdamW(ps, lr: 1e-3, weightDecay: 0.1);
    }

    public void Run() => _opt.Step();
}
