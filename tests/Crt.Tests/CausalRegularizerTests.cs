using Crt.Regularizer;
using Crt.Tensors;
using Crt.Training;
using Xunit;

namespace Crt.Tests;

/// <summary>
/// The regulariser's ablation switches (spec §3), which the default's PyTorch parity test does not reach: the
/// cross-entropy form, the detached target, the depth, and raw latents through the trainer. Each is checked for what
/// it means (the loss it computes and where its gradient goes), not only that it runs.
/// </summary>
public sealed class CausalRegularizerTests : IDisposable
{
    private const int B = 2, Grid = 3, N = Grid * Grid, CodeDim = 8, K = 16;
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-reg-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CausalRegularizer Make(CrtConfig config) => new(config with { Width = 32 }, CodeDim, K, Grid, new Rng(3));

    private static Tensor Latents(int seed)
    {
        var x = new Rng((ulong)seed).Normal(new[] { B, N, CodeDim });
        x.RequiresGrad = true;
        return x;
    }

    private static int[] Codes(int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, B * N).Select(_ => r.Next(K)).ToArray();
    }

    /// <summary>The gradient of the loss with respect to the latents, by the tape.</summary>
    private static float[] GradOf(CausalRegularizer reg, Tensor latents, int[] codes)
    {
        latents.Grad = null;
        reg.Loss(latents, codes).Backward();
        return latents.Grad!.ToArray();
    }

    /// <summary>Central differences of <paramref name="f"/> at element <paramref name="i"/> of x (float64 accumulation of a float32 loss).</summary>
    private static double Numeric(Func<float[], double> f, float[] x, int i, float h = 1e-2f)
    {
        var p = (float[])x.Clone(); p[i] += h;
        var m = (float[])x.Clone(); m[i] -= h;
        return (f(p) - f(m)) / (2 * h);
    }

    private static bool LastPositionOnly(int i) => i / CodeDim % N == N - 1;

    [Fact]
    public void TheCrossEntropyFormIsTheCrossEntropyOfEachNextCodeAndTeachesOnlyThroughTheInputs()
    {
        var reg = Make(new CrtConfig { LossForm = CrtLossForm.CrossEntropy });
        var x = Latents(1); var codes = Codes(2);
        Assert.Equal(K, reg.OutputProj.Weight.Shape[0]); // logits over the codebook, not a latent

        double loss = reg.Loss(x, codes).Item();
        float[] logits;
        using (Tensor.NoGrad()) logits = reg.Predict(x).ToArray();
        double want = 0;
        for (int row = 0; row < B * N; row++)
        {
            var z = logits.AsSpan(row * K, K).ToArray().Select(v => (double)v).ToArray();
            double max = z.Max(), lse = max + Math.Log(z.Sum(v => Math.Exp(v - max)));
            want += lse - z[codes[row]];
        }
        Assert.Equal(want / (B * N), loss, 5);

        // The targets are code indices: the latents get gradient only as inputs, so the last position's none at all.
        var grad = GradOf(reg, x, codes);
        var x0 = x.ToArray();
        double F(float[] v) { using (Tensor.NoGrad()) return reg.Loss(Tensor.From(v, B, N, CodeDim), codes).Item(); }
        for (int i = 0; i < grad.Length; i++)
            if (LastPositionOnly(i)) Assert.Equal(0f, grad[i]);
        foreach (int i in new[] { 0, 5, CodeDim * 3 + 1, CodeDim * (N + 2) + 7 })
            Assert.True(Math.Abs(Numeric(F, x0, i) - grad[i]) <= 2e-3 + 2e-2 * Math.Abs(grad[i]), $"element {i}: tape {grad[i]}, numeric {Numeric(F, x0, i)}");
    }

    [Fact]
    public void ADetachedTargetIsHeldFixedWhileTheDefaultTargetIsTaught()
    {
        var detached = Make(new CrtConfig { DetachTarget = true });
        var taught = Make(new CrtConfig());
        var x = Latents(4); var codes = Codes(5);
        var x0 = x.ToArray();
        Assert.Equal(taught.Loss(x, codes).Item(), detached.Loss(x, codes).Item()); // the same loss value; only its gradient differs

        var gd = GradOf(detached, x, codes);
        var gt = GradOf(taught, x, codes);
        // The last latent is only ever a target: detached, it learns nothing from the loss; taught, it is pulled to its prediction.
        Assert.All(Enumerable.Range(0, gd.Length).Where(LastPositionOnly), i => Assert.Equal(0f, gd[i]));
        Assert.Contains(Enumerable.Range(0, gt.Length).Where(LastPositionOnly), i => gt[i] != 0f);

        // Detached = the gradient with the target held at its value; taught = the gradient of the whole loss.
        double Fixed(float[] v) { using (Tensor.NoGrad()) return Ops.MseLoss(detached.Predict(Tensor.From(v, B, N, CodeDim)), Tensor.From(x0, B, N, CodeDim)).Item(); }
        double Whole(float[] v) { using (Tensor.NoGrad()) return taught.Loss(Tensor.From(v, B, N, CodeDim), codes).Item(); }
        foreach (int i in new[] { 1, CodeDim * 2 + 3, CodeDim * (N - 1) + 4, CodeDim * (2 * N - 1) })
        {
            Assert.True(Math.Abs(Numeric(Fixed, x0, i) - gd[i]) <= 2e-3 + 2e-2 * Math.Abs(gd[i]), $"detached, element {i}: tape {gd[i]}, numeric {Numeric(Fixed, x0, i)}");
            Assert.True(Math.Abs(Numeric(Whole, x0, i) - gt[i]) <= 2e-3 + 2e-2 * Math.Abs(gt[i]), $"taught, element {i}: tape {gt[i]}, numeric {Numeric(Whole, x0, i)}");
        }
    }

    [Fact]
    public void DepthIsTheNumberOfTransformerBlocks()
    {
        foreach (int depth in new[] { 1, 2, 4 })
        {
            var reg = Make(new CrtConfig { Depth = depth });
            Assert.Equal(depth, reg.Layers.Count);
            Assert.True(double.IsFinite(reg.Loss(Latents(6), Codes(7)).Item()));
        }
    }

    /// <summary>Each of the ablation's part-5 arms trains a few steps through the trainer, as the sweep runs it, with finite losses.</summary>
    [Theory]
    [InlineData("raw-latents")]
    [InlineData("detached")]
    [InlineData("cross-entropy")]
    [InlineData("depth-1")]
    [InlineData("depth-4")]
    public void EveryPart5ArmTrains(string arm)
    {
        var baseCrt = new CrtConfig { RampSteps = 2 };
        var crt = arm switch
        {
            "raw-latents" => baseCrt with { NormalizedLatents = false },
            "detached" => baseCrt with { DetachTarget = true },
            "cross-entropy" => baseCrt with { LossForm = CrtLossForm.CrossEntropy },
            "depth-1" => baseCrt with { Depth = 1 },
            _ => baseCrt with { Depth = 4 },
        };
        var config = TokenizerTrainConfig.ForPreset("vq-tiny") with
        {
            Steps = 3, BatchSize = 2, ValEvery = 3, ValImages = 8, CheckpointEvery = 3, ImageEvery = 3, Crt = crt, DiscStart = 100, DiscChannels = 16,
        };
        var dir = Path.Combine(_dir, arm);
        TokenizerTrainer.Create(config, dir, quiet: true, log: _ => { }).Train();
        var metrics = RunDirectory.OpenToRead(dir).ReadMetrics();
        var train = metrics.Where(m => (string?)m["kind"] == "train").ToList();
        Assert.Equal(3L, (long)train.Last()["step"]!);
        Assert.All(train, m => Assert.True(double.IsFinite((double)m["loss"]!)));
        Assert.Contains(train, m => m["crt_loss"] is not null && double.IsFinite((double)m["crt_loss"]!) && (double)m["crt_loss"]! > 0);
        Assert.Contains(metrics, m => (string?)m["kind"] == "val");
    }
}
