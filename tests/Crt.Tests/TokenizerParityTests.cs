using Crt.Regularizer;
using Crt.Tensors;
using Crt.Tensors.IO;
using Crt.Tensors.Nn;
using Crt.Tokenizer;
using Xunit;

namespace Crt.Tests;

/// <summary>One vq-tiny training step (tokenizer, CRT regulariser, discriminator) against tools/parity/make_vq.py.</summary>
public class TokenizerParityTests
{
    /// <summary>make_vq.py's hash_uniform: u in [−1, 1) from an integer hash of (element i, parameter j).</summary>
    internal static double HashUniform(long i, int j)
    {
        long h = (i * 2654435761L + (j + 1) * 40503L) & 0xFFFFFFFFL;
        h ^= h >> 13;
        h = (h * 0x5BD1E995L) & 0xFFFFFFFFL;
        h ^= h >> 15;
        return h / 4294967296.0 * 2 - 1;
    }

    /// <summary>make_vq.py's fill(): parameter j in sorted-name order gets 0.05·u, norm weights 1 + 0.1·u.</summary>
    private static void Fill(Module m)
    {
        var named = m.NamedParameters().OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
        for (int j = 0; j < named.Count; j++)
        {
            var (name, p) = named[j];
            bool normWeight = p.Rank == 1 && name.EndsWith("weight", StringComparison.Ordinal) && !name.Contains("conv");
            var s = p.Span;
            for (int i = 0; i < s.Length; i++)
            {
                double u = HashUniform(i, j);
                s[i] = (float)(normWeight ? 1.0 + 0.1 * u : 0.05 * u);
            }
        }
    }

    private static void Close(Tensor expected, Tensor actual, double rtol, string label)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        TestData.AssertClose(expected.ToArray(), actual.ToArray(), rtol, label);
    }

    /// <summary>
    /// Gradient heads and norms per parameter. Some gradients are zero in exact arithmetic (a conv bias
    /// followed by GroupNorm) and only round-off remains, so errors are measured against the larger of
    /// the tensor's own scale and 1e-3 of the largest gradient in the model.
    /// </summary>
    private static void GradientsMatch(Dictionary<string, Tensor> f, string prefix, Module m)
    {
        var named = m.NamedParameters().ToList();
        double globalHead = named.Max(p => f["grad_head." + prefix + p.Name].ToArray().Max(v => Math.Abs((double)v)));
        double globalNorm = named.Max(p => (double)f["grad_norm." + prefix + p.Name].Item());
        foreach (var (name, p) in named)
        {
            Assert.True(p.Grad is not null, $"{prefix}{name} received no gradient");
            var g = p.Grad!.ToArray();
            var head = f["grad_head." + prefix + name].ToArray();
            double scale = Math.Max(head.Max(v => Math.Abs((double)v)), 1e-3 * globalHead);
            double err = head.Zip(g, (e, a) => Math.Abs((double)e - a)).Max();
            Assert.True(err <= 1e-3 * scale, $"{prefix}{name}: gradient max |diff| {err:G3} exceeds 1e-3 × {scale:G3}");
            double norm = Math.Sqrt(g.Sum(v => (double)v * v)), expected = f["grad_norm." + prefix + name].Item();
            Assert.True(Math.Abs(norm - expected) <= 2e-4 * expected + 1e-5 * globalNorm, $"{prefix}{name}: gradient norm {norm:G6} vs PyTorch {expected:G6}");
        }
    }

    [Fact]
    public void VqTinyStepWithCrtAndDiscriminatorMatchesPyTorch()
    {
        var path = TestData.File("parity/vq.safetensors");
        var f = SafeTensors.Load(path);
        var vq = new VqModel(VqConfig.Preset("vq-tiny"), new Rng(0));
        var crt = new CausalRegularizer(new CrtConfig { Width = 64, Depth = 2 }, 8, 512, 8, new Rng(0));
        var disc = new PatchGanDiscriminator(1, 16, 2, new Rng(0));
        Fill(vq); Fill(crt); Fill(disc);

        var x = f["x"];
        var h = vq.QuantConv.Forward(vq.Encoder.Forward(x));
        // Deep stacks of float32 convolutions drift by a few 1e-5 relative from PyTorch's summation order.
        Close(f["h"], h, 1e-4, "encoder output h");
        var q = vq.Quantize.Forward(h);
        Assert.Equal(SafeTensors.LoadInt32(path, "indices").Data, q.Indices);
        var rec = vq.Decode(q.Quantized);
        Close(f["rec"], rec, 1e-4, "reconstruction");
        Close(f["latents"], q.Latents, 1e-4, "normalised latents");

        var recLoss = Ops.MseLoss(x, rec);
        var crtLoss = crt.Loss(q.Latents, q.Indices);
        var genAdv = PatchGanDiscriminator.GeneratorLoss(disc.Forward(rec));
        var total = Ops.Add(Ops.Add(Ops.Add(recLoss, q.VqLoss!), Ops.Add(q.CommitLoss!, Ops.MulScalar(crtLoss, 2f))), Ops.MulScalar(genAdv, 0.5f));
        var losses = new[] { recLoss, q.VqLoss!, q.CommitLoss!, crtLoss, genAdv, total }.Select(t => t.Item()).ToArray();
        Close(f["losses"], Tensor.FromArray(losses, 6), 1e-5, "losses (rec, vq, commit, crt, adv, total)");
        total.Backward();
        GradientsMatch(f, "vq.", vq);
        GradientsMatch(f, "crt.", crt);

        disc.ZeroGrad();
        var real = disc.Forward(x);
        Close(f["disc_logits_real"], real, 1e-5, "discriminator logits on real images");
        var dLoss = PatchGanDiscriminator.HingeLoss(real, disc.Forward(rec.Detach()));
        Assert.Equal(f["disc_loss"].Item(), dLoss.Item(), tolerance: 1e-5);
        dLoss.Backward();
        GradientsMatch(f, "disc.", disc);
        var bn = (BatchNorm2d)disc.Main.NamedChildren().First(c => c.Name == "3").Module;
        Close(f["disc_running_mean_3"], bn.RunningMean, 1e-5, "BatchNorm running mean after three training passes");
    }
}
