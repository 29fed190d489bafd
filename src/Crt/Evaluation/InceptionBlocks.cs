using Crt.Tensors;
using Crt.Tensors.Nn;

namespace Crt.Evaluation;

/// <summary>torchvision's BasicConv2d: convolution without bias, BatchNorm (eps 0.001, TF's value), ReLU. Children "conv" and "bn".</summary>
public sealed class BasicConv2d : Module
{
    private readonly Conv2d _conv;
    private readonly BatchNorm2d _bn;

    public BasicConv2d(int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0)
        : this(inChannels, outChannels, (kernel, kernel), stride, (padding, padding)) { }

    /// <param name="kernel">(height, width), e.g. (1, 7) for the factorised 7×7 of InceptionC.</param>
    /// <param name="padding">(rows, columns) added on both sides.</param>
    public BasicConv2d(int inChannels, int outChannels, (int H, int W) kernel, int stride, (int H, int W) padding)
    {
        _conv = RegisterModule("conv", new Conv2d(inChannels, outChannels, kernel.H, kernel.W, stride,
            new Padding2d(padding.H, padding.H, padding.W, padding.W), bias: false, rng: new Rng(0)));
        _bn = RegisterModule("bn", new BatchNorm2d(outChannels, eps: 0.001f));
    }

    public Tensor Forward(Tensor x) => Ops.Relu(_bn.Forward(_conv.Forward(x)));
}

/// <summary>
/// pytorch-fid's FIDInceptionA (Mixed_5b/5c/5d): torchvision's InceptionA except that the pool branch
/// averages without counting the zero padding (count_include_pad=False), as TensorFlow's pooling does
/// in the graph the FID weights come from. Output channels 224 + poolFeatures.
/// </summary>
public sealed class FidInceptionA : Module
{
    private readonly BasicConv2d _b1, _b5_1, _b5_2, _b3_1, _b3_2, _b3_3, _pool;

    public FidInceptionA(int inChannels, int poolFeatures)
    {
        _b1 = RegisterModule("branch1x1", new BasicConv2d(inChannels, 64, 1));
        _b5_1 = RegisterModule("branch5x5_1", new BasicConv2d(inChannels, 48, 1));
        _b5_2 = RegisterModule("branch5x5_2", new BasicConv2d(48, 64, 5, padding: 2));
        _b3_1 = RegisterModule("branch3x3dbl_1", new BasicConv2d(inChannels, 64, 1));
        _b3_2 = RegisterModule("branch3x3dbl_2", new BasicConv2d(64, 96, 3, padding: 1));
        _b3_3 = RegisterModule("branch3x3dbl_3", new BasicConv2d(96, 96, 3, padding: 1));
        _pool = RegisterModule("branch_pool", new BasicConv2d(inChannels, poolFeatures, 1));
    }

    public Tensor Forward(Tensor x) => Ops.Concat(new[]
    {
        _b1.Forward(x),
        _b5_2.Forward(_b5_1.Forward(x)),
        _b3_3.Forward(_b3_2.Forward(_b3_1.Forward(x))),
        _pool.Forward(Ops.AvgPool2d(x, 3, 1, 1, countIncludePad: false)),
    }, 1);
}

/// <summary>torchvision's InceptionB (Mixed_6a, unchanged in the FID net): grid reduction to 384 + 96 + in channels.</summary>
public sealed class InceptionB : Module
{
    private readonly BasicConv2d _b3, _b3_1, _b3_2, _b3_3;

    public InceptionB(int inChannels)
    {
        _b3 = RegisterModule("branch3x3", new BasicConv2d(inChannels, 384, 3, stride: 2));
        _b3_1 = RegisterModule("branch3x3dbl_1", new BasicConv2d(inChannels, 64, 1));
        _b3_2 = RegisterModule("branch3x3dbl_2", new BasicConv2d(64, 96, 3, padding: 1));
        _b3_3 = RegisterModule("branch3x3dbl_3", new BasicConv2d(96, 96, 3, stride: 2));
    }

    public Tensor Forward(Tensor x) => Ops.Concat(new[]
    {
        _b3.Forward(x),
        _b3_3.Forward(_b3_2.Forward(_b3_1.Forward(x))),
        Ops.MaxPool2d(x, 3, 2),
    }, 1);
}

/// <summary>pytorch-fid's FIDInceptionC (Mixed_6b..6e): torchvision's InceptionC with the pool branch averaging without the padding. 768 channels out.</summary>
public sealed class FidInceptionC : Module
{
    private readonly BasicConv2d _b1, _b7_1, _b7_2, _b7_3, _d1, _d2, _d3, _d4, _d5, _pool;

    public FidInceptionC(int inChannels, int channels7x7)
    {
        int c7 = channels7x7;
        _b1 = RegisterModule("branch1x1", new BasicConv2d(inChannels, 192, 1));
        _b7_1 = RegisterModule("branch7x7_1", new BasicConv2d(inChannels, c7, 1));
        _b7_2 = RegisterModule("branch7x7_2", new BasicConv2d(c7, c7, (1, 7), 1, (0, 3)));
        _b7_3 = RegisterModule("branch7x7_3", new BasicConv2d(c7, 192, (7, 1), 1, (3, 0)));
        _d1 = RegisterModule("branch7x7dbl_1", new BasicConv2d(inChannels, c7, 1));
        _d2 = RegisterModule("branch7x7dbl_2", new BasicConv2d(c7, c7, (7, 1), 1, (3, 0)));
        _d3 = RegisterModule("branch7x7dbl_3", new BasicConv2d(c7, c7, (1, 7), 1, (0, 3)));
        _d4 = RegisterModule("branch7x7dbl_4", new BasicConv2d(c7, c7, (7, 1), 1, (3, 0)));
        _d5 = RegisterModule("branch7x7dbl_5", new BasicConv2d(c7, 192, (1, 7), 1, (0, 3)));
        _pool = RegisterModule("branch_pool", new BasicConv2d(inChannels, 192, 1));
    }

    public Tensor Forward(Tensor x) => Ops.Concat(new[]
    {
        _b1.Forward(x),
        _b7_3.Forward(_b7_2.Forward(_b7_1.Forward(x))),
        _d5.Forward(_d4.Forward(_d3.Forward(_d2.Forward(_d1.Forward(x))))),
        _pool.Forward(Ops.AvgPool2d(x, 3, 1, 1, countIncludePad: false)),
    }, 1);
}

/// <summary>torchvision's InceptionD (Mixed_7a, unchanged in the FID net): grid reduction to 320 + 192 + in channels.</summary>
public sealed class InceptionD : Module
{
    private readonly BasicConv2d _b3_1, _b3_2, _b7_1, _b7_2, _b7_3, _b7_4;

    public InceptionD(int inChannels)
    {
        _b3_1 = RegisterModule("branch3x3_1", new BasicConv2d(inChannels, 192, 1));
        _b3_2 = RegisterModule("branch3x3_2", new BasicConv2d(192, 320, 3, stride: 2));
        _b7_1 = RegisterModule("branch7x7x3_1", new BasicConv2d(inChannels, 192, 1));
        _b7_2 = RegisterModule("branch7x7x3_2", new BasicConv2d(192, 192, (1, 7), 1, (0, 3)));
        _b7_3 = RegisterModule("branch7x7x3_3", new BasicConv2d(192, 192, (7, 1), 1, (3, 0)));
        _b7_4 = RegisterModule("branch7x7x3_4", new BasicConv2d(192, 192, 3, stride: 2));
    }

    public Tensor Forward(Tensor x) => Ops.Concat(new[]
    {
        _b3_2.Forward(_b3_1.Forward(x)),
        _b7_4.Forward(_b7_3.Forward(_b7_2.Forward(_b7_1.Forward(x)))),
        Ops.MaxPool2d(x, 3, 2),
    }, 1);
}

/// <summary>
/// pytorch-fid's FIDInceptionE_1 (Mixed_7b, <paramref name="maxPool"/> false) and FIDInceptionE_2
/// (Mixed_7c, <paramref name="maxPool"/> true): torchvision's InceptionE whose pool branch averages
/// without the padding in E_1 and takes a 3×3 max (padding 1) in E_2 — the TF graph's pool_3 block
/// max-pools there, which pytorch-fid reproduces although the paper's design averages. 2048 channels out.
/// </summary>
public sealed class FidInceptionE : Module
{
    private readonly bool _maxPool;
    private readonly BasicConv2d _b1, _b3_1, _b3_2a, _b3_2b, _d1, _d2, _d3a, _d3b, _pool;

    public FidInceptionE(int inChannels, bool maxPool)
    {
        _maxPool = maxPool;
        _b1 = RegisterModule("branch1x1", new BasicConv2d(inChannels, 320, 1));
        _b3_1 = RegisterModule("branch3x3_1", new BasicConv2d(inChannels, 384, 1));
        _b3_2a = RegisterModule("branch3x3_2a", new BasicConv2d(384, 384, (1, 3), 1, (0, 1)));
        _b3_2b = RegisterModule("branch3x3_2b", new BasicConv2d(384, 384, (3, 1), 1, (1, 0)));
        _d1 = RegisterModule("branch3x3dbl_1", new BasicConv2d(inChannels, 448, 1));
        _d2 = RegisterModule("branch3x3dbl_2", new BasicConv2d(448, 384, 3, padding: 1));
        _d3a = RegisterModule("branch3x3dbl_3a", new BasicConv2d(384, 384, (1, 3), 1, (0, 1)));
        _d3b = RegisterModule("branch3x3dbl_3b", new BasicConv2d(384, 384, (3, 1), 1, (1, 0)));
        _pool = RegisterModule("branch_pool", new BasicConv2d(inChannels, 192, 1));
    }

    public Tensor Forward(Tensor x)
    {
        var b3 = _b3_1.Forward(x);
        var d = _d2.Forward(_d1.Forward(x));
        var pooled = _maxPool ? Ops.MaxPool2d(x, 3, 1, 1) : Ops.AvgPool2d(x, 3, 1, 1, countIncludePad: false);
        return Ops.Concat(new[]
        {
            _b1.Forward(x),
            _b3_2a.Forward(b3), _b3_2b.Forward(b3),
            _d3a.Forward(d), _d3b.Forward(d),
            _pool.Forward(pooled),
        }, 1);
    }
}
