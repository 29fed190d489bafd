using System.Text.Json.Nodes;
using Crt.Tensors;
using Crt.Training;
using Xunit;

namespace Crt.Tests;

public sealed class TokenizerTrainingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-tok-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TokenizerTrainConfig Tiny(long steps) => TokenizerTrainConfig.ForPreset("vq-tiny") with
    {
        Steps = steps, BatchSize = 4, ValEvery = 6, ValImages = 16, CheckpointEvery = 3, ImageEvery = 6,
        Crt = new() { RampSteps = 4 }, DiscStart = 4, DiscChannels = 16,
    };

    [Fact]
    public void ARunWritesMetricsCheckpointsAndGridsAndResumesExactly()
    {
        var straight = Path.Combine(_dir, "straight");
        var result = TokenizerTrainer.Create(Tiny(6), straight, quiet: true, log: _ => { }).Train();
        Assert.Equal(6, result.Steps);
        Assert.True(result.TrainingFlops > 0 && result.RegularizerFlopFraction > 0);
        Assert.True(File.Exists(Path.Combine(straight, "config.json")));
        Assert.True(File.Exists(Path.Combine(straight, "images", "recon-step-0000006.png")));
        Assert.Contains("validation PSNR", File.ReadAllText(Path.Combine(straight, "report.html")));
        var run = RunDirectoryFor(straight);
        var metrics = run.ReadMetrics();
        Assert.Contains(metrics, m => (string?)m["kind"] == "val" && (long)m["step"]! == 6 && (double)m["psnr"]! > 0);
        Assert.Equal("step-0000006", File.ReadAllText(Path.Combine(straight, "checkpoints", "latest")).Trim());

        // The same run interrupted at step 3 and resumed: identical losses at step 6 and identical weights.
        var split = Path.Combine(_dir, "split");
        TokenizerTrainer.Create(Tiny(3), split, quiet: true, log: _ => { }).Train();
        CheckpointSeconds.Write(CheckpointSeconds.Latest(split), 1000); // as if the first process had trained for 1000 s
        var resumed = TokenizerTrainer.Resume(split, steps: 6, quiet: true, log: _ => { });
        Assert.Equal(3, resumed.Step);
        resumed.Train();
        Assert.True(resumed.SecondsSpent > 1000, "the resumed run's seconds start from the checkpoint's");
        Assert.Equal(resumed.SecondsSpent, CheckpointSeconds.Read(CheckpointSeconds.Latest(split)));
        double Loss(string dir) => (double)RunDirectoryFor(dir).ReadMetrics().Last(m => (string?)m["kind"] == "train")["loss"]!;
        Assert.Equal(Loss(straight), Loss(split), 4);
        var a = SafeTensorsOf(straight); var b = SafeTensorsOf(split);
        foreach (var (name, t) in a)
        {
            var x = t.ToArray(); var y = b[name].ToArray();
            double err = x.Zip(y, (p, q) => Math.Abs((double)p - q)).DefaultIfEmpty(0).Max();
            Assert.True(err < 1e-4, $"{name}: resumed weights differ by {err}");
        }
        Assert.Throws<ArgumentException>(() => TokenizerTrainer.Create(Tiny(3), split, quiet: true, log: _ => { }));
    }

    [Fact]
    public void DeadCodeRestartRestartsIdleCodesAndResumesExactly()
    {
        var config = Tiny(6) with { Model = Tiny(6).Model with { DeadCodeRestart = 2 } };
        var straight = Path.Combine(_dir, "dead-straight");
        TokenizerTrainer.Create(config, straight, quiet: true, log: _ => { }).Train();
        var train = RunDirectoryFor(straight).ReadMetrics().Where(m => (string?)m["kind"] == "train").ToList();
        var restarted = train.Where(m => m["dead_codes_restarted"] is not null).ToDictionary(m => (long)m["step"]!, m => (double)m["dead_codes_restarted"]!);
        Assert.Equal(new long[] { 2, 4, 6 }, restarted.Keys.Order());
        Assert.True(restarted[2] >= 512 - 2 * 4 * 64, "a batch of 4 images chooses at most 256 of the 512 codes a step");
        Assert.Contains("quantize.code_last_used", SafeTensorsOf(straight).Keys);

        var split = Path.Combine(_dir, "dead-split");
        TokenizerTrainer.Create(config with { Steps = 3 }, split, quiet: true, log: _ => { }).Train();
        TokenizerTrainer.Resume(split, steps: 6, quiet: true, log: _ => { }).Train();
        var a = SafeTensorsOf(straight); var b = SafeTensorsOf(split);
        foreach (var (name, t) in a)
            Assert.True(t.ToArray().SequenceEqual(b[name].ToArray()), $"{name}: the resumed run differs");
    }

    [Fact]
    public void AFinishedRunStrippedToItsWeightsOpensToBeReadNotTrained()
    {
        var full = Path.Combine(_dir, "full");
        TokenizerTrainer.Create(Tiny(3), full, quiet: true, log: _ => { }).Train();
        // What moving a finished run between machines keeps: config, metrics, and the checkpoint's weights and state.json.
        var stripped = Path.Combine(_dir, "stripped");
        var ckpt = Path.Combine("checkpoints", "step-0000003");
        Directory.CreateDirectory(Path.Combine(stripped, ckpt));
        foreach (var f in new[] { "config.json", "metrics.jsonl", Path.Combine("checkpoints", "latest"),
                                  Path.Combine(ckpt, "model.safetensors"), Path.Combine(ckpt, "regularizer.safetensors"), Path.Combine(ckpt, "state.json") })
            File.Copy(Path.Combine(full, f), Path.Combine(stripped, f));
        Assert.Throws<InvalidDataException>(() => TokenizerTrainer.Resume(stripped, quiet: true, log: _ => { }));
        var opened = TokenizerTrainer.OpenFinished(stripped);
        Assert.Equal(3, opened.Step);
        Assert.True(opened.FlopsSpent > 0);
        Assert.True(opened.MeasureStepFlops().WithRegularizer > 0);
        Assert.Throws<InvalidOperationException>(() => opened.Train());
        File.Delete(Path.Combine(stripped, ckpt, "model.safetensors"));
        Assert.Throws<InvalidDataException>(() => TokenizerTrainer.OpenFinished(stripped));
    }

    private static RunDirectory RunDirectoryFor(string dir) => RunDirectory.OpenToRead(dir);

    private static Dictionary<string, Tensor> SafeTensorsOf(string dir) =>
        Crt.Tensors.IO.SafeTensors.Load(Path.Combine(dir, "checkpoints", "step-0000006", "model.safetensors"));
}

public class TokenizationVariantTests
{
    [Fact]
    public void VariantsMirrorAndCropAsNamed()
    {
        var x = Tensor.From(Enumerable.Range(0, 2 * 10 * 10).Select(i => (float)i).ToArray(), 2, 1, 10, 10);
        var flip = Tokenization.Variant(x, "flip");
        Assert.Equal(x[0, 0, 3, 9], flip[0, 0, 3, 0]);
        Assert.Same(x, Tokenization.Variant(x, "original"));
        // 1.1× enlargement of 10 → 11, cut at the top-left: the first pixel is still the image's corner.
        var tl = Tokenization.Variant(x, "crop-tl");
        Assert.Equal(x[1, 0, 0, 0], tl[1, 0, 0, 0]);
        var br = Tokenization.Variant(x, "crop-br");
        Assert.Equal(x[1, 0, 9, 9], br[1, 0, 9, 9], 3);
        Assert.Equal(10, Tokenization.ExpandVariants(new[] { "ten-crop" }).Length);
        var err = Assert.Throws<ArgumentException>(() => Tokenization.ExpandVariants(new[] { "rotate" }));
        Assert.Contains("unknown variant 'rotate'", err.Message);
    }
}
