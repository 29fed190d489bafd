using Crt.Tensors;
using Crt.Tensors.Kernels.Cpu;

namespace Crt.Bench.Workloads;

/// <summary>Square C = A·B through Gemm.Sgemm into a preallocated C (sgemm-256 … sgemm-2048).</summary>
public sealed class SgemmWorkload : IWorkload
{
    private readonly int _n;
    private float[] _a = null!, _b = null!, _c = null!;
    public SgemmWorkload() : this(1024) { }
    private SgemmWorkload(int n) => _n = n;
    public static IEnumerable<IWorkload> All() => new[] { 256, 512, 1024, 2048 }.Select(n => (IWorkload)new SgemmWorkload(n));
    public string Name => $"sgemm-{_n}";
    public double Flops => 2.0 * _n * _n * _n;

    public void Setup()
    {
        var r = new Rng(0);
        _a = r.Normal(new[] { _n, _n }).ToArray();
        _b = r.Normal(new[] { _n, _n }).ToArray();
        _c = new float[_n * _n];
    }

    public void Run() => Gemm.Sgemm(false, false, _n, _n, _n, 1f, _a, _n, _b, _n, 0f, _c, _n);
}

/// <summary>F.linear forward of the transformer shape: x [2048, 256] · Wᵀ (W [768, 256]) + b.</summary>
public sealed class LinearWorkload : IWorkload
{
    private Tensor _x = null!, _w = null!, _b = null!;
    public string Name => "linear-2048x256x768";
    public double Flops => 2.0 * 2048 * 256 * 768;

    public void Setup()
    {
        var r = new Rng(0);
        _x = r.Normal(new[] { 2048, 256 });
        _w = r.Normal(new[] { 768, 256 }, 0, 0.05f);
        _b = r.Normal(new[] { 768 });
    }

    public void Run() => Ops.Linear(_x, _w, _b);
}
