namespace Crt.Tensors.Nn;

/// <summary>nn.Conv2d (no groups or dilation): weight [out, in, kh, kw], bias [out], PyTorch's default init.</summary>
public sealed class Conv2d : Module, ILayer
{
    public int InChannels { get; }
    public int OutChannels { get; }
    public int KernelH { get; }
    public int KernelW { get; }
    public int Stride { get; }
    /// <summary>Zero padding, possibly asymmetric (e.g. the VQGAN's downsampling pads only right and bottom).</summary>
    public Padding2d Padding { get; }
    public Tensor Weight { get; }
    public Tensor? Bias { get; }

    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, bool bias = true, Rng? rng = null)
        : this(inChannels, outChannels, kernelSize, kernelSize, stride, Padding2d.Same(padding), bias, rng) { }

    public Conv2d(int inChannels, int outChannels, int kernelH, int kernelW, int stride, Padding2d padding, bool bias = true, Rng? rng = null)
    {
        if (inChannels <= 0 || outChannels <= 0 || kernelH <= 0 || kernelW <= 0 || stride <= 0)
            throw new ArgumentException($"Conv2d: channels, kernel and stride must be positive, got in={inChannels}, out={outChannels}, kernel={kernelH}x{kernelW}, stride={stride}");
        if (padding.Top < 0 || padding.Bottom < 0 || padding.Left < 0 || padding.Right < 0)
            throw new ArgumentException($"Conv2d: negative padding {padding}");
        rng ??= Rng.Default;
        InChannels = inChannels; OutChannels = outChannels; KernelH = kernelH; KernelW = kernelW; Stride = stride; Padding = padding;
        Weight = RegisterParameter("weight", Persistent(() => Tensor.Zeros(outChannels, inChannels, kernelH, kernelW)));
        Init.KaimingUniform(Weight, rng, a: Math.Sqrt(5));
        if (bias)
        {
            Bias = RegisterParameter("bias", Persistent(() => Tensor.Zeros(outChannels)));
            double bound = 1 / Math.Sqrt(inChannels * kernelH * kernelW);
            Init.Uniform(Bias, rng, -bound, bound);
        }
    }

    public Tensor Forward(Tensor x) => Ops.Conv2d(x, Weight, Bias, Stride, Padding);
}
