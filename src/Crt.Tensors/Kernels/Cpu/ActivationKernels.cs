using System.Runtime.Intrinsics;

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
        public Vector512<float> Apply(Vector512<float> x) => x * VMath.Sigmoid(x);
        public Vector256<float> Apply(Vector256<float> x) => x * VMath.Sigmoid(x);
    }

    private struct TanhOp : IUnaryOp
    {
        public Vector512<float> Apply(Vector512<float> x) => VMath.Tanh(x);
        public Vector256<float> Apply(Vector256<float> x) => VMath.Tanh(x);
    }

    private struct SigmoidOp : IUnaryOp
    {
        public Vector512<float> Apply(Vector512<float> x) => VMath.Sigmoid(x);
        public Vector256<float> Apply(Vector256<float> x) => VMath.Sigmoid(x);
    }

    private readonly struct LeakyReluOp(float slope) : IUnaryOp
    {
        public Vector512<float> Apply(Vector512<float> x) =>
            Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), x, x * Vector512.Create(slope));
        public Vector256<float> Apply(Vector256<float> x) =>
            Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), x, x * Vector256.Create(slope));
    }

    private struct GeluOp : IUnaryOp
    {
        public Vector512<float> Apply(Vector512<float> x) => x * VMath.NormalCdf(x, out _);
        public Vector256<float> Apply(Vector256<float> x) => x * VMath.NormalCdf(x, out _);
    }

    // PyTorch's tanh form 0.5·x·(1 + tanh(k(x + 0.044715x³))), k = √(2/π), written with the identity
    // ½(1 + tanh(u)) = σ(2u), which stays accurate in the negative tail.
    private const float K2 = 2f * 0.7978845608028654f, Kappa = 0.044715f;

    private struct GeluTanhOp : IUnaryOp
    {
        public Vector512<float> Apply(Vector512<float> x)
        {
            var u = x * Vector512.FusedMultiplyAdd(x * x, Vector512.Create(K2 * Kappa), Vector512.Create(K2));
            return x * VMath.Sigmoid(u);
        }
        public Vector256<float> Apply(Vector256<float> x)
        {
            var u = x * Vector256.FusedMultiplyAdd(x * x, Vector256.Create(K2 * Kappa), Vector256.Create(K2));
            return x * VMath.Sigmoid(u);
        }
    }

    private struct SiluGradOp : IBinaryOp
    {
        // d(x·σ)/dx = σ·(1 + x·(1−σ))
        public Vector512<float> Apply(Vector512<float> x, Vector512<float> g)
        {
            var s = VMath.Sigmoid(x);
            return g * s * Vector512.FusedMultiplyAdd(x, Vector512<float>.One - s, Vector512<float>.One);
        }
        public Vector256<float> Apply(Vector256<float> x, Vector256<float> g)
        {
            var s = VMath.Sigmoid(x);
            return g * s * Vector256.FusedMultiplyAdd(x, Vector256<float>.One - s, Vector256<float>.One);
        }
    }

    private struct SigmoidGradOp : IBinaryOp
    {
        public Vector512<float> Apply(Vector512<float> y, Vector512<float> g) => g * y * (Vector512<float>.One - y);
        public Vector256<float> Apply(Vector256<float> y, Vector256<float> g) => g * y * (Vector256<float>.One - y);
    }

    private struct TanhGradOp : IBinaryOp
    {
        public Vector512<float> Apply(Vector512<float> y, Vector512<float> g) => g * Vector512.FusedMultiplyAdd(-y, y, Vector512<float>.One);
        public Vector256<float> Apply(Vector256<float> y, Vector256<float> g) => g * Vector256.FusedMultiplyAdd(-y, y, Vector256<float>.One);
    }

    private readonly struct LeakyReluGradOp(float slope) : IBinaryOp
    {
        public Vector512<float> Apply(Vector512<float> x, Vector512<float> g) =>
            Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), g, g * Vector512.Create(slope));
        public Vector256<float> Apply(Vector256<float> x, Vector256<float> g) =>
            Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), g, g * Vector256.Create(slope));
    }

    private const float InvSqrt2Pi = 0.3989422804014327f;

    private struct GeluGradOp : IBinaryOp
    {
        // d(x·Φ(x))/dx = Φ(x) + x·φ(x), φ(x) = e^{−x²/2}/√(2π)
        public Vector512<float> Apply(Vector512<float> x, Vector512<float> g)
        {
            var cdf = VMath.NormalCdf(x, out var gauss);
            return g * Vector512.FusedMultiplyAdd(x * gauss, Vector512.Create(InvSqrt2Pi), cdf);
        }
        public Vector256<float> Apply(Vector256<float> x, Vector256<float> g)
        {
            var cdf = VMath.NormalCdf(x, out var gauss);
            return g * Vector256.FusedMultiplyAdd(x * gauss, Vector256.Create(InvSqrt2Pi), cdf);
        }
    }

    private struct GeluTanhGradOp : IBinaryOp
    {
        // y = x·σ(u), u = K2(x + κx³): dy/dx = σ + x·σ(1−σ)·K2(1 + 3κx²)
        public Vector512<float> Apply(Vector512<float> x, Vector512<float> g)
        {
            var x2 = x * x;
            var s = VMath.Sigmoid(x * Vector512.FusedMultiplyAdd(x2, Vector512.Create(K2 * Kappa), Vector512.Create(K2)));
            var du = Vector512.FusedMultiplyAdd(x2, Vector512.Create(3f * K2 * Kappa), Vector512.Create(K2));
            return g * Vector512.FusedMultiplyAdd(x * s * (Vector512<float>.One - s), du, s);
        }
        public Vector256<float> Apply(Vector256<float> x, Vector256<float> g)
        {
            var x2 = x * x;
            var s = VMath.Sigmoid(x * Vector256.FusedMultiplyAdd(x2, Vector256.Create(K2 * Kappa), Vector256.Create(K2)));
            var du = Vector256.FusedMultiplyAdd(x2, Vector256.Create(3f * K2 * Kappa), Vector256.Create(K2));
            return g * Vector256.FusedMultiplyAdd(x * s * (Vector256<float>.One - s), du, s);
        }
    }
}
