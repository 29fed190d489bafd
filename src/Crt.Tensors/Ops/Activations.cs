using Crt.Tensors.Kernels.Cpu;

namespace Crt.Tensors;

/// <summary>Pointwise activations, each forward with its backward (fused SIMD kernels).</summary>
public static partial class Ops
{
    /// <summary>SiLU / swish: x·σ(x).</summary>
    public static Tensor Silu(Tensor x)
    {
        Device.Common("silu", x);
        var y = x.EmptyLike();
        ActivationKernels.Silu(x.ReadOnlySpan, y.Span);
        return Tensor.Record("silu", y, new[] { x }, g =>
        {
            var dx = x.EmptyLike();
            ActivationKernels.SiluBackward(x.ReadOnlySpan, g.ReadOnlySpan, dx.Span);
            x.AccumulateGrad(dx);
        });
    }

    public static Tensor Sigmoid(Tensor x)
    {
        Device.Common("sigmoid", x);
        var y = x.EmptyLike();
        ActivationKernels.Sigmoid(x.ReadOnlySpan, y.Span);
        return Tensor.Record("sigmoid", y, new[] { x }, g =>
        {
            var dx = x.EmptyLike();
            ActivationKernels.SigmoidBackward(y.ReadOnlySpan, g.ReadOnlySpan, dx.Span);
            x.AccumulateGrad(dx);
        });
    }

    public static Tensor Tanh(Tensor x)
    {
        Device.Common("tanh", x);
        var y = x.EmptyLike();
        ActivationKernels.Tanh(x.ReadOnlySpan, y.Span);
        return Tensor.Record("tanh", y, new[] { x }, g =>
        {
            var dx = x.EmptyLike();
            ActivationKernels.TanhBackward(y.ReadOnlySpan, g.ReadOnlySpan, dx.Span);
            x.AccumulateGrad(dx);
        });
    }

    /// <summary>max(x, 0); the gradient passes where x &gt; 0.</summary>
    public static Tensor Relu(Tensor x) => LeakyReluNamed("relu", x, 0f);

    /// <summary>x for x &gt; 0, slope·x otherwise.</summary>
    public static Tensor LeakyRelu(Tensor x, float negativeSlope = 0.01f) => LeakyReluNamed("leaky_relu", x, negativeSlope);

    private static Tensor LeakyReluNamed(string name, Tensor x, float slope)
    {
        Device.Common(name, x);
        var y = x.EmptyLike();
        ActivationKernels.LeakyRelu(x.ReadOnlySpan, y.Span, slope);
        return Tensor.Record(name, y, new[] { x }, g =>
        {
            var dx = x.EmptyLike();
            ActivationKernels.LeakyReluBackward(x.ReadOnlySpan, g.ReadOnlySpan, dx.Span, slope);
            x.AccumulateGrad(dx);
        });
    }

    /// <summary>GELU, exact (erf) by default, PyTorch's tanh approximation when asked.</summary>
    public static Tensor Gelu(Tensor x, bool tanhApproximation = false)
    {
        Device.Common("gelu", x);
        var y = x.EmptyLike();
        if (tanhApproximation) ActivationKernels.GeluTanh(x.ReadOnlySpan, y.Span);
        else ActivationKernels.Gelu(x.ReadOnlySpan, y.Span);
        return Tensor.Record("gelu", y, new[] { x }, g =>
        {
            var dx = x.EmptyLike();
            if (tanhApproximation) ActivationKernels.GeluTanhBackward(x.ReadOnlySpan, g.ReadOnlySpan, dx.Span);
            else ActivationKernels.GeluBackward(x.ReadOnlySpan, g.ReadOnlySpan, dx.Span);
            x.AccumulateGrad(dx);
        });
    }
}
