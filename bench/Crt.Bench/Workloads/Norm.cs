using Crt.Tensors;

namespace Crt.Bench.Workloads;

/// <summary>
/// The VQGAN's hot pair: GroupNorm(32 groups, 64 channels, affine, eps 1e-6) then SiLU on [32, 64, 32, 32],
/// forward and backward for a fixed upstream gradient (one fused op in crt). Gradients accumulate into the
/// leaves' existing .Grad, as in the PyTorch twin (no per-iteration reset on either side).
/// </summary>
public sealed class GroupNormSwishWorkload : IWorkload
{
    private Tensor _x = null!, _w = null!, _b = null!, _g = null!;
    public string Name => "groupnorm-swish-fwdbwd-32x64x32x32";
    public double Flops => 0;

    public void Setup()
    {
        var rng = new Rng(0);
        int[] shape = { 32, 64, 32, 32 };
        _x = rng.Normal(shape); _x.RequiresGrad = true;
        _w = rng.Normal(new[] { 64 }, 1f, 0.1f); _w.RequiresGrad = true;
        _b = rng.Normal(new[] { 64 }, 0f, 0.1f); _b.RequiresGrad = true;
        _g = rng.Normal(shape);
    }

    public void Run() => Ops.GroupNorm(_x, 32, _w, _b, 1e-6f, swish: true).Backward(_g);
}

/// <summary>LlamaGen's RMSNorm (eps 1e-5, weight) over [2048, 768], forward and backward for a fixed upstream gradient.</summary>
public sealed class RmsNormWorkload : IWorkload
{
    private Tensor _x = null!, _w = null!, _g = null!;
    public string Name => "rmsnorm-fwdbwd-2048x768";
    public double Flops => 0;

    public void Setup()
    {
        var rng = new Rng(0);
        _x = rng.Normal(new[] { 2048, 768 }); _x.RequiresGrad = true;
        _w = rng.Normal(new[] { 768 }, 1f, 0.1f); _w.RequiresGrad = true;
        _g = rng.Normal(new[] { 2048, 768 });
    }

    public void Run() => Ops.RmsNorm(_x, _w, 1e-5f).Backward(_g);
}

/// <summary>LayerNorm (eps 1e-5, weight and bias) over [2048, 768], forward and backward for a fixed upstream gradient:
/// the row kernels' centred path (RMSNorm skips the mean), against PyTorch's fused layer_norm.</summary>
public sealed class LayerNormWorkload : IWorkload
{
    private Tensor _x = null!, _w = null!, _b = null!, _g = null!;
    public string Name => "layernorm-fwdbwd-2048x768";
    public double Flops => 0;

    public void Setup()
    {
        var rng = new Rng(0);
        _x = rng.Normal(new[] { 2048, 768 }); _x.RequiresGrad = true;
        _w = rng.Normal(new[] { 768 }, 1f, 0.1f); _w.RequiresGrad = true;
        _b = rng.Normal(new[] { 768 }, 0f, 0.1f); _b.RequiresGrad = true;
        _g = rng.Normal(new[] { 2048, 768 });
    }

    public void Run() => Ops.LayerNorm(_x, _w, _b, 1e-5f).Backward(_g);
}
