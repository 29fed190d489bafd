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
    /// <summary>make_vq.py's fill(): parameter j in sorted-name order gets 0.05·sin(0.37·i + 1.1·j), norm weights 1 + 0.1·sin(…).</summary>
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
                double v = Math.Sin(0.37 * i + 1.1 * j);
                s[i] = (float)(normWeight ? 1.0 + 0.1 * v : 0.05 * v);
            }
        }
    }

    private static void Close(Tensor expected, Tensor actual, double rtol, string label)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ToArray(); var a = actual.ToArray();
        double scale = Math.Max(1e-12, e.Max(v => Math.Abs((double)v)));
        double err = e.Zip(a, (x, y) => Math.Abs((double)x - y)).Max();
        Assert.True(err <= rtol * scale, $"{label}: max |diff| {err:G3} exceeds {rtol:G2} × {scale:G3}");
    }

    private static void GradientsMatch(Dictionary<string, Tensor> f, string prefix, Module m)
    {
        foreach (var (name, p) in m.NamedParameters())
        {
            Assert.True(p.Grad is not null, $"{prefix}{name} received no gradient");
            var g = p.Grad!.ToArray();
            var head = f["grad_head." + prefix + name];
            Close(head, Tensor.FromArray(g.Take(head.Size).ToArray(), head.Size), 2e-4, prefix + name);
            double norm = Math.Sqrt(g.Sum(v => (double)v * v)), expected = f["grad_norm." + prefix + name].Item();
            Assert.True(Math.Abs(norm - expected) <= 2e-4 * expected + 1e-9, $"{prefix}{name}: gradient norm {norm:G6} vs PyTorch {expected:G6}");
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
        Close(f["h"], h, 1e-5, "encoder output h");
        var q = vq.Quantize.Forward(h);
        Assert.Equal(SafeTensors.LoadInt32(path, "indices").Data, q.Indices);
        var rec = vq.Decode(q.Quantized);
        Close(f["rec"], rec, 1e-5, "reconstruction");
        Close(f["latents"], q.Latents, 1e-5, "normalised latents");

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
