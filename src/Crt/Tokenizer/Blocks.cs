using Crt.Tensors;
using Crt.Tensors.Nn;

namespace Crt.Tokenizer;

/// <summary>GroupNorm with 32 groups, eps 1e-6, affine — LlamaGen's Normalize('group').</summary>
internal static class Norm32
{
    public static GroupNorm Create(int channels) => new(32, channels, eps: 1e-6f);
}

/// <summary>GN → swish → conv3×3 → GN → swish → dropout → conv3×3, plus a 1×1 shortcut when widths differ.</summary>
public sealed class ResnetBlock : Module
{
    public GroupNorm Norm1 { get; }
    public Conv2d Conv1 { get; }
    public GroupNorm Norm2 { get; }
    public Conv2d Conv2 { get; }
    public Conv2d? NinShortcut { get; }
    private readonly Dropout _dropout;

    public ResnetBlock(int inChannels, int outChannels, float dropout, Rng rng)
    {
        Norm1 = RegisterModule("norm1", Norm32.Create(inChannels));
        Conv1 = RegisterModule("conv1", new Conv2d(inChannels, outChannels, 3, padding: 1, rng: rng));
        Norm2 = RegisterModule("norm2", Norm32.Create(outChannels));
        _dropout = RegisterModule("dropout", new Dropout(dropout, rng));
        Conv2 = RegisterModule("conv2", new Conv2d(outChannels, outChannels, 3, padding: 1, rng: rng));
        if (inChannels != outChannels) NinShortcut = RegisterModule("nin_shortcut", new Conv2d(inChannels, outChannels, 1, rng: rng));
    }

    public Tensor Forward(Tensor x)
    {
        var h = Conv1.Forward(Norm1.Forward(x, swish: true));
        h = Conv2.Forward(_dropout.Forward(Norm2.Forward(h, swish: true)));
        return Ops.Add(NinShortcut?.Forward(x) ?? x, h);
    }
}

/// <summary>Single-head self-attention over all H·W positions with 1×1 q/k/v/proj convolutions, residual.</summary>
public sealed class AttnBlock : Module
{
    public GroupNorm Norm { get; }
    public Conv2d Q { get; }
    public Conv2d K { get; }
    public Conv2d V { get; }
    public Conv2d ProjOut { get; }

    public AttnBlock(int channels, Rng rng)
    {
        Norm = RegisterModule("norm", Norm32.Create(channels));
        Q = RegisterModule("q", new Conv2d(channels, channels, 1, rng: rng));
        K = RegisterModule("k", new Conv2d(channels, channels, 1, rng: rng));
        V = RegisterModule("v", new Conv2d(channels, channels, 1, rng: rng));
        ProjOut = RegisterModule("proj_out", new Conv2d(channels, channels, 1, rng: rng));
    }

    public Tensor Forward(Tensor x)
    {
        int b = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        var n = Norm.Forward(x);
        // [B, C, H, W] → [B, 1, HW, C]: one head whose head dim is C, so the scale is C^−½ as LlamaGen.
        Tensor Tokens(Conv2d conv) => Ops.Reshape(Ops.Transpose(Ops.Reshape(conv.Forward(n), b, c, h * w), 1, 2), b, 1, h * w, c);
        var o = Ops.ScaledDotProductAttention(Tokens(Q), Tokens(K), Tokens(V), causal: false);
        o = Ops.Reshape(Ops.Transpose(Ops.Reshape(o, b, h * w, c), 1, 2), b, c, h, w);
        return Ops.Add(x, ProjOut.Forward(o));
    }
}

/// <summary>Zero-pad right and bottom by one, then conv3×3 stride 2 (LlamaGen's Downsample with_conv).</summary>
public sealed class Downsample : Module
{
    public Conv2d Conv { get; }

    public Downsample(int channels, Rng rng) =>
        Conv = RegisterModule("conv", new Conv2d(channels, channels, 3, 3, stride: 2, new Padding2d(0, 1, 0, 1), rng: rng));

    public Tensor Forward(Tensor x) => Conv.Forward(x);
}

/// <summary>Nearest-neighbour ×2, then conv3×3 padding 1.</summary>
public sealed class Upsample : Module
{
    public Conv2d Conv { get; }

    public Upsample(int channels, Rng rng) => Conv = RegisterModule("conv", new Conv2d(channels, channels, 3, padding: 1, rng: rng));

    public Tensor Forward(Tensor x) => Conv.Forward(Ops.UpsampleNearest2x(x));
}

/// <summary>One resolution level: its ResnetBlocks ("res"), AttnBlocks ("attn", possibly none) and resampler.</summary>
public sealed class ConvLevel : Module
{
    public ModuleList<ResnetBlock> Res { get; }
    public ModuleList<AttnBlock> Attn { get; }
    public Downsample? Downsample { get; }
    public Upsample? Upsample { get; }

    public ConvLevel(IEnumerable<ResnetBlock> res, IEnumerable<AttnBlock> attn, Downsample? down, Upsample? up)
    {
        Res = RegisterModule("res", new ModuleList<ResnetBlock>(res));
        Attn = RegisterModule("attn", new ModuleList<AttnBlock>(attn));
        if (down is not null) Downsample = RegisterModule("downsample", down);
        if (up is not null) Upsample = RegisterModule("upsample", up);
    }

    public Tensor Forward(Tensor h)
    {
        for (int i = 0; i < Res.Count; i++)
        {
            h = Res[i].Forward(h);
            if (Attn.Count > 0) h = Attn[i].Forward(h);
        }
        if (Downsample is not null) h = Downsample.Forward(h);
        if (Upsample is not null) h = Upsample.Forward(h);
        return h;
    }
}
