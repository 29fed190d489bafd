using Crt.Tensors;
using Crt.Tensors.Nn;

namespace Crt.Tokenizer;

/// <summary>
/// LlamaGen's PatchGAN discriminator (NLayerDiscriminator): conv4×4 s2 → LeakyReLU(0.2), then
/// (n_layers − 1) × [conv4×4 s2 (no bias), BatchNorm, LeakyReLU] with doubling width (capped at 8×),
/// conv4×4 s1 (no bias), BatchNorm, LeakyReLU, conv4×4 s1 → one logit per patch. Conv weights
/// N(0, 0.02), BatchNorm weights N(1, 0.02). Registered as "main.0", "main.1", … like nn.Sequential.
/// </summary>
public sealed class PatchGanDiscriminator : Module
{
    public Sequential Main { get; }

    public PatchGanDiscriminator(int inChannels, int ndf, int layers, Rng rng)
    {
        if (layers < 1 || ndf < 1) throw new ArgumentException($"discriminator: {layers} layers of width {ndf} (both must be positive)");
        var seq = new List<Module> { new Conv2d(inChannels, ndf, 4, stride: 2, padding: 1, rng: rng), LeakyRelu() };
        int mult = 1, prev;
        for (int n = 1; n < layers; n++)
        {
            prev = mult;
            mult = Math.Min(1 << n, 8);
            seq.Add(new Conv2d(ndf * prev, ndf * mult, 4, stride: 2, padding: 1, bias: false, rng: rng));
            seq.Add(new BatchNorm2d(ndf * mult));
            seq.Add(LeakyRelu());
        }
        prev = mult;
        mult = Math.Min(1 << layers, 8);
        seq.Add(new Conv2d(ndf * prev, ndf * mult, 4, stride: 1, padding: 1, bias: false, rng: rng));
        seq.Add(new BatchNorm2d(ndf * mult));
        seq.Add(LeakyRelu());
        seq.Add(new Conv2d(ndf * mult, 1, 4, stride: 1, padding: 1, rng: rng));
        Main = RegisterModule("main", new Sequential(seq.ToArray()));
        foreach (var m in seq)
        {
            if (m is Conv2d c) Init.Normal(c.Weight, rng, 0, 0.02);
            else if (m is BatchNorm2d bn) { Init.Normal(bn.Weight!, rng, 1, 0.02); Init.Zeros(bn.Bias!); }
        }
    }

    private static Activation LeakyRelu() => new(x => Ops.LeakyRelu(x, 0.2f), "leaky_relu");

    /// <summary>Patch logits [B, 1, h, w] for images [B, C, H, W].</summary>
    public Tensor Forward(Tensor x) => Main.Forward(x);

    /// <summary>Hinge loss for the discriminator: 0.5·(mean relu(1 − D(x)) + mean relu(1 + D(x̂))).</summary>
    public static Tensor HingeLoss(Tensor logitsReal, Tensor logitsFake) =>
        Ops.MulScalar(Ops.Add(Ops.Mean(Ops.Relu(Ops.AddScalar(Ops.Neg(logitsReal), 1f))), Ops.Mean(Ops.Relu(Ops.AddScalar(logitsFake, 1f)))), 0.5f);

    /// <summary>The generator's hinge adversarial loss: −mean D(x̂).</summary>
    public static Tensor GeneratorLoss(Tensor logitsFake) => Ops.Neg(Ops.Mean(logitsFake));
}
