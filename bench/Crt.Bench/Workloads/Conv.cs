using Crt.Tensors;

namespace Crt.Bench.Workloads;

/// <summary>
/// 3×3 convolution, padding 1, forward and backward for a fixed upstream gradient: y = conv2d(x, w, b),
/// y.Backward(g) computes dx, dW, db (x, w, b are leaves requiring grad; their grads are cleared each run).
/// Flops = 3 × 2·N·Cout·Cin·9·H·W (forward, dx and dW GEMMs).
/// </summary>
public sealed class Conv3x3FwdBwdWorkload : IWorkload
{
    private readonly int _n, _c, _hw;
    private Tensor _x = null!, _w = null!, _b = null!, _g = null!;

    public Conv3x3FwdBwdWorkload() : this(32, 64, 32) { }

    private Conv3x3FwdBwdWorkload(int n, int c, int hw) { _n = n; _c = c; _hw = hw; }

    public static IEnumerable<IWorkload> All() => new IWorkload[] { new Conv3x3FwdBwdWorkload(32, 64, 32), new Conv3x3FwdBwdWorkload(32, 128, 16) };

    public string Name => $"conv3x3-fwdbwd-{_n}x{_c}x{_hw}x{_hw}";
    public double Flops => 3.0 * 2 * _n * _c * _c * 9 * _hw * _hw;

    public void Setup()
    {
        var r = new Rng(0);
        _x = r.Normal(new[] { _n, _c, _hw, _hw }); _x.RequiresGrad = true;
        _w = r.Normal(new[] { _c, _c, 3, 3 }, 0, 1f / MathF.Sqrt(_c * 9)); _w.RequiresGrad = true;
        _b = r.Normal(new[] { _c }); _b.RequiresGrad = true;
        _g = r.Normal(new[] { _n, _c, _hw, _hw });
    }

    public void Run()
    {
        // As a training step does it: temporaries from the step's pool, gradients zeroed (their buffers reused).
        using var scope = TensorScope.Begin();
        _x.ZeroGrad(); _w.ZeroGrad(); _b.ZeroGrad();
        Ops.Conv2d(_x, _w, _b, 1, 1).Backward(_g);
    }
}
