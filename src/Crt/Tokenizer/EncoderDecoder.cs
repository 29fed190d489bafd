using Crt.Tensors;
using Crt.Tensors.Nn;

namespace Crt.Tokenizer;

/// <summary>Res → Attn → Res at the lowest resolution, registered as LlamaGen's "mid" list (mid.0, mid.1, mid.2).</summary>
internal static class Mid
{
    public static ModuleList<Module> Create(int channels, float dropout, Rng rng) => new(new Module[]
    {
        new ResnetBlock(channels, channels, dropout, rng), new AttnBlock(channels, rng), new ResnetBlock(channels, channels, dropout, rng),
    });

    public static Tensor Forward(ModuleList<Module> mid, Tensor h) =>
        ((ResnetBlock)mid[2]).Forward(((AttnBlock)mid[1]).Forward(((ResnetBlock)mid[0]).Forward(h)));
}

/// <summary>LlamaGen's Encoder: conv_in, levels (attention on the last only, downsampling between), mid, GN → swish → conv_out.</summary>
public sealed class Encoder : Module
{
    public Conv2d ConvIn { get; }
    public ModuleList<ConvLevel> ConvBlocks { get; }
    public ModuleList<Module> MidBlocks { get; }
    public GroupNorm NormOut { get; }
    public Conv2d ConvOut { get; }

    public Encoder(VqConfig c, Rng rng)
    {
        ConvIn = RegisterModule("conv_in", new Conv2d(c.InChannels, c.Channels, 3, padding: 1, rng: rng));
        var levels = new List<ConvLevel>();
        int blockIn = c.Channels;
        for (int level = 0; level < c.Levels; level++)
        {
            int blockOut = c.Channels * c.ChannelMultipliers[level];
            bool last = level == c.Levels - 1;
            var res = new List<ResnetBlock>();
            var attn = new List<AttnBlock>();
            for (int i = 0; i < c.NumResBlocks; i++)
            {
                res.Add(new ResnetBlock(blockIn, blockOut, c.Dropout, rng));
                blockIn = blockOut;
                if (last) attn.Add(new AttnBlock(blockIn, rng));
            }
            levels.Add(new ConvLevel(res, attn, last ? null : new Downsample(blockIn, rng), null));
        }
        ConvBlocks = RegisterModule("conv_blocks", new ModuleList<ConvLevel>(levels));
        MidBlocks = RegisterModule("mid", Mid.Create(blockIn, c.Dropout, rng));
        NormOut = RegisterModule("norm_out", Norm32.Create(blockIn));
        ConvOut = RegisterModule("conv_out", new Conv2d(blockIn, c.ZChannels, 3, padding: 1, rng: rng));
    }

    public Tensor Forward(Tensor x)
    {
        var h = ConvIn.Forward(x);
        foreach (var level in ConvBlocks) h = level.Forward(h);
        h = Mid.Forward(MidBlocks, h);
        return ConvOut.Forward(NormOut.Forward(h, swish: true));
    }
}

/// <summary>LlamaGen's Decoder: conv_in, mid, levels lowest resolution first (attention there, num_res_blocks + 1 blocks each, upsampling between), GN → swish → conv_out.</summary>
public sealed class Decoder : Module
{
    public Conv2d ConvIn { get; }
    public ModuleList<Module> MidBlocks { get; }
    public ModuleList<ConvLevel> ConvBlocks { get; }
    public GroupNorm NormOut { get; }
    public Conv2d ConvOut { get; }

    public Decoder(VqConfig c, Rng rng)
    {
        int blockIn = c.Channels * c.ChannelMultipliers[^1];
        ConvIn = RegisterModule("conv_in", new Conv2d(c.ZChannels, blockIn, 3, padding: 1, rng: rng));
        MidBlocks = RegisterModule("mid", Mid.Create(blockIn, c.Dropout, rng));
        var levels = new List<ConvLevel>();
        for (int level = c.Levels - 1; level >= 0; level--)
        {
            int blockOut = c.Channels * c.ChannelMultipliers[level];
            bool lowest = level == c.Levels - 1;
            var res = new List<ResnetBlock>();
            var attn = new List<AttnBlock>();
            for (int i = 0; i < c.NumResBlocks + 1; i++)
            {
                res.Add(new ResnetBlock(blockIn, blockOut, c.Dropout, rng));
                blockIn = blockOut;
                if (lowest) attn.Add(new AttnBlock(blockIn, rng));
            }
            levels.Add(new ConvLevel(res, attn, null, level != 0 ? new Upsample(blockIn, rng) : null));
        }
        ConvBlocks = RegisterModule("conv_blocks", new ModuleList<ConvLevel>(levels));
        NormOut = RegisterModule("norm_out", Norm32.Create(blockIn));
        ConvOut = RegisterModule("conv_out", new Conv2d(blockIn, c.InChannels, 3, padding: 1, rng: rng));
    }

    public Tensor Forward(Tensor z)
    {
        var h = Mid.Forward(MidBlocks, ConvIn.Forward(z));
        foreach (var level in ConvBlocks) h = level.Forward(h);
        return ConvOut.Forward(NormOut.Forward(h, swish: true));
    }
}
