namespace Crt.Tensors.Kernels.Cpu;

/// <summary>Forward and backward kernels of the pointwise activations (SIMD, split over cores when large).</summary>
public static class ActivationKernels
{
    // ---- forward ---------------------------------------------------------------------------------

    public static void Silu(ReadOnlySpan<float> x, Span<float> y) => Simd.MapParallel(new SiluOp(), x, y, 8);

    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> y) => Simd.MapParallel(new SigmoidOp(), x, y, 8);

    public static void Tanh(ReadOnlySpan<float> x, Span<float> y) => Simd.MapParallel(new TanhOp(), x, y, 10);

    public static void Relu(ReadOnlySpan<float> x, Span<float> y) => Simd.MapParallel(new LeakyReluOp(0f), x, y, 1);

    public static void LeakyRelu(ReadOnlySpan<float> x, Span<float> y, float slope) => Simd.MapParallel(new LeakyReluOp(slope), x, y, 1);

    public static void Gelu(ReadOnlySpan<float> x, Span<float> y) => Simd.MapParallel(new GeluOp(), x, y, 24);

    public static void GeluTanh(ReadOnlySpan<float> x, Span<float> y) => Simd.MapParallel(new GeluTanhOp(), x, y, 10);

    // ---- backward: dx from the saved input (or output) and the upstream gradient g -----------------

    public static void SiluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> dx) => Simd.MapParallel(new SiluGradOp(), x, g, dx, 10);

    /// <summary>From the sigmoid's output y: g·y·(1−y).</summary>
    public static void SigmoidBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> g, Span<float> dx) => Simd.MapParallel(new SigmoidGradOp(), y, g, dx, 2);

    /// <summary>From tanh's output y: g·(1−y²).</summary>
    public static void TanhBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> g, Span<float> dx) => Simd.MapParallel(new TanhGradOp(), y, g, dx, 2);

    public static void LeakyReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> dx, float slope) => Simd.MapParallel(new LeakyReluGradOp(slope), x, g, dx, 1);

    public static void GeluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> dx) => Simd.MapParallel(new GeluGradOp(), x, g, dx, 26);

    public static void GeluTanhBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> dx) => Simd.MapParallel(new GeluTanhGradOp(), x, g, dx, 14);

    // ---- op structs ---------------------------------------------------------------------------------

    private struct SiluOp : IUnaryOp
    {
        public float Apply(float x) => x * VMath.Sigmoid(x);
        public V Apply<V>(V x) where V : unmanaged, IVec<V> => x * VMath.Sigmoid(x);
    }

    private struct TanhOp : IUnaryOp
    {
        public float Apply(float x) => VMath.Tanh(x);
        public V Apply<V>(V x) where V : unmanaged, IVec<V> => VMath.Tanh(x);
    }

    private struct SigmoidOp : IUnaryOp
    {
        public float Apply(float x) => VMath.Sigmoid(x);
        public V Apply<V>(V x) where V : unmanaged, IVec<V> => VMath.Sigmoid(x);
    }

    private readonly struct LeakyReluOp(float slope) : IUnaryOp
    {
        public float Apply(float x) => x > 0 ? x : x * slope;
        public V Apply<V>(V x) where V : unmanaged, IVec<V> => V.Select(V.GreaterThan(x, V.Zero), x, x * V.Create(slope));
    }

    private struct GeluOp : IUnaryOp
    {
        public float Apply(float x) => x * VMath.NormalCdf(x, out _);
        public V Apply<V>(V x) where V : unmanaged, IVec<V> => x * VMath.NormalCdf(x, out _);
    }

    // PyTorch's tanh form 0.5·x·(1 + tanh(k(x + 0.044715x³))), k = √(2/π), written with the identity
    // ½(1 + tanh(u)) = σ(2u), which stays accurate in the negative tail.
    private const float K2 = 2f * 0.7978845608028654f, Kappa = 0.044715f;

    private struct GeluTanhOp : IUnaryOp
    {
        public float Apply(float x) => x * VMath.Sigmoid(x * float.MultiplyAddEstimate(x * x, K2 * Kappa, K2));
        public V Apply<V>(V x) where V : unmanaged, IVec<V> => x * VMath.Sigmoid(x * V.MultiplyAddEstimate(x * x, V.Create(K2 * Kappa), V.Create(K2)));
    }

    private struct SiluGradOp : IBinaryOp
    {
        // d(x·σ)/dx = σ·(1 + x·(1−σ))
        public float Apply(float x, float g)
        {
            float s = VMath.Sigmoid(x);
            return g * s * float.MultiplyAddEstimate(x, 1f - s, 1f);
        }
        public V Apply<V>(V x, V g) where V : unmanaged, IVec<V>
        {
            var s = VMath.Sigmoid(x);
            return g * s * V.MultiplyAddEstimate(x, V.One - s, V.One);
        }
    }

    private struct SigmoidGradOp : IBinaryOp
    {
        public float Apply(float y, float g) => g * y * (1f - y);
        public V Apply<V>(V y, V g) where V : unmanaged, IVec<V> => g * y * (V.One - y);
    }

    private struct TanhGradOp : IBinaryOp
    {
        public float Apply(float y, float g) => g * float.MultiplyAddEstimate(-y, y, 1f);
        public V Apply<V>(V y, V g) where V : unmanaged, IVec<V> => g * V.MultiplyAddEstimate(-y, y, V.One);
    }

    private readonly struct LeakyReluGradOp(float slope) : IBinaryOp
    {
        public float Apply(float x, float g) => x > 0 ? g : g * slope;
        public V Apply<V>(V x, V g) where V : unmanaged, IVec<V> => V.Select(V.GreaterThan(x, V.Zero), g, g * V.Create(slope));
    }

    private const float InvSqrt2Pi = 0.3989422804014327f;

    private struct GeluGradOp : IBinaryOp
    {
        // d(x·Φ(x))/dx = Φ(x) + x·φ(x), φ(x) = e^{−x²/2}/√(2π)
        public float Apply(float x, float g)
        {
            float cdf = VMath.NormalCdf(x, out float gauss);
            return g * float.MultiplyAddEstimate(x * gauss, InvSqrt2Pi, cdf);
        }
        public V Apply<V>(V x, V g) where V : unmanaged, IVec<V>
        {
            var cdf = VMath.NormalCdf(x, out var gauss);
            return g * V.MultiplyAddEstimate(x * gauss, V.Create(InvSqrt2Pi), cdf);
        }
    }

    private struct GeluTanhGradOp : IBinaryOp
    {
        // y = x·σ(u), u = K2(x + κx³): dy/dx = σ + x·σ(1−σ)·K2(1 + 3κx²)
        public float Apply(float x, float g)
        {
            float x2 = x * x;
            float s = VMath.Sigmoid(x * float.MultiplyAddEstimate(x2, K2 * Kappa, K2));
            float du = float.MultiplyAddEstimate(x2, 3f * K2 * Kappa, K2);
            return g * float.MultiplyAddEstimate(x * s * (1f - s), du, s);
        }
        public V Apply<V>(V x, V g) where V : unmanaged, IVec<V>
        {
            var x2 = x * x;
            var s = VMath.Sigmoid(x * V.MultiplyAddEstimate(x2, V.Create(K2 * Kappa), V.Create(K2)));
            var du = V.MultiplyAddEstimate(x2, V.Create(3f * K2 * Kappa), V.Create(K2));
            return g * V.MultiplyAddEstimate(x * s * (V.One - s), du, s);
        }
    }
}
