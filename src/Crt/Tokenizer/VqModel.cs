using Crt.Tensors;
using Crt.Tensors.Nn;

namespace Crt.Tokenizer;

/// <summary>
/// LlamaGen's VQModel: encoder → quant_conv (1×1, z_channels → code_dim) → quantizer →
/// post_quant_conv (1×1, code_dim → z_channels) → decoder. Names follow LlamaGen, so a converted
/// checkpoint loads by name.
/// </summary>
public sealed class VqModel : Module
{
    public VqConfig Config { get; }
    public Encoder Encoder { get; }
    public Decoder Decoder { get; }
    public VectorQuantizer Quantize { get; }
    public Conv2d QuantConv { get; }
    public Conv2d PostQuantConv { get; }

    public VqModel(VqConfig config, Rng rng)
    {
        config.Validate();
        Config = config;
        Encoder = RegisterModule("encoder", new Encoder(config, rng));
        Decoder = RegisterModule("decoder", new Decoder(config, rng));
        Quantize = RegisterModule("quantize", new VectorQuantizer(config.CodebookSize, config.CodeDim, config.CommitBeta, config.EntropyLossRatio, rng, trackCodeUse: config.DeadCodeRestart > 0));
        QuantConv = RegisterModule("quant_conv", new Conv2d(config.ZChannels, config.CodeDim, 1, rng: rng));
        PostQuantConv = RegisterModule("post_quant_conv", new Conv2d(config.CodeDim, config.ZChannels, 1, rng: rng));
    }

    /// <summary>Images [B, in, S, S] in [−1, 1] → quantizer output (latents h after quant_conv, codes, losses).</summary>
    public QuantizerOutput Encode(Tensor x)
    {
        if (x.Rank != 4 || x.Shape[1] != Config.InChannels || x.Shape[2] % Config.DownsampleFactor != 0 || x.Shape[3] % Config.DownsampleFactor != 0)
            throw new ArgumentException($"tokenizer: expected images [B, {Config.InChannels}, H, W] with H and W divisible by {Config.DownsampleFactor}, got {ShapeUtil.Format(x.Shape)}");
        return Quantize.Forward(QuantConv.Forward(Encoder.Forward(x)));
    }

    public Tensor Decode(Tensor quantized) => Decoder.Forward(PostQuantConv.Forward(quantized));

    /// <summary>Code grids [B, H·W] → images.</summary>
    public Tensor DecodeCodes(int[] codes, int batch, int gridHeight, int gridWidth) =>
        Decode(Quantize.Lookup(codes, batch, gridHeight, gridWidth));

    /// <summary>Reconstruction and the quantizer's output.</summary>
    public (Tensor Reconstruction, QuantizerOutput Quantizer) Forward(Tensor x)
    {
        var q = Encode(x);
        return (Decode(q.Quantized), q);
    }
}
