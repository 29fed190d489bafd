using Crt.Data;
using Crt.Generator;
using Crt.Tensors;
using Crt.Training;
using Xunit;

namespace Crt.Tests;

/// <summary>
/// The GPT trained, resumed and sampled on a non-CPU device: "ilgpu-cpu" runs the CUDA backend's kernel source on
/// ILGPU's CPU accelerator, so these tests check what a GPU run does, without a GPU (and slowly: shapes are tiny).
/// </summary>
[Collection("console")]
public sealed class GptDeviceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-gpt-device-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly Device Gpu = Device.Parse("ilgpu-cpu");

    private string Store()
    {
        var path = Path.Combine(_dir, "train.tokens");
        if (File.Exists(path)) return path;
        var rng = new Rng(3);
        var codes = Enumerable.Range(0, 16 * 4).Select(i => (i / 4 % 5 + rng.NextInt(2)) % 16).ToArray();
        TokenStore.Write(path, new TokenStoreHeader
        {
            TokenizerSha256 = "cd" + new string('0', 62), GridHeight = 2, GridWidth = 2, CodebookSize = 16, NumClasses = 4, Count = 16, Variants = 1,
        }, codes, Enumerable.Range(0, 16).Select(i => i % 4).ToArray());
        return path;
    }

    /// <summary>gpt-t1 with the dropouts off: the device's dropout draws another random stream than the CPU's.</summary>
    private GptTrainConfig Config(long steps) => GptTrainConfig.ForPreset("gpt-t1") with
    {
        Tokens = Store(), Steps = steps, BatchSize = 4, CheckpointEvery = 2,
        Model = GptTrainConfig.ForPreset("gpt-t1").Model with { TokenDropout = 0, ResidDropout = 0, FfnDropout = 0 },
    };

    private static double[] Losses(string dir) =>
        RunDirectory.OpenToRead(dir).ReadMetrics().Where(m => (string?)m["kind"] == "train").Select(m => (double)m["loss"]!).ToArray();

    [Fact]
    public void TrainsOnTheDeviceAsOnTheCpuAndResumesOnTheCpu()
    {
        string cpu2 = Path.Combine(_dir, "cpu2"), cpu4 = Path.Combine(_dir, "cpu4"), gpu = Path.Combine(_dir, "gpu");
        GptTrainer.Create(Config(2), cpu2, quiet: true, log: _ => { }).Fit();
        GptTrainer.Create(Config(4), cpu4, quiet: true, log: _ => { }).Fit();
        var onDevice = GptTrainer.Create(Config(2), gpu, quiet: true, log: _ => { }, device: Gpu);
        Assert.Equal(Gpu, onDevice.Model.Device);
        onDevice.Fit();
        AssertClose(Losses(cpu2)[^1], Losses(gpu)[^1], "loss at step 2, cpu vs device");
        var a = Crt.Tensors.IO.SafeTensors.Load(Path.Combine(cpu2, "checkpoints", "step-0000002", "model.safetensors"));
        var b = Crt.Tensors.IO.SafeTensors.Load(Path.Combine(gpu, "checkpoints", "step-0000002", "model.safetensors"));
        foreach (var (name, t) in a)
            Assert.True(t.ToArray().Zip(b[name].ToArray(), (x, y) => Math.Abs(x - y)).Max() < 1e-5, $"{name} differs between the cpu and the device after 2 steps");

        // The checkpoint written from the device is a plain file: the run goes on on the CPU, optimizer state included.
        var resumed = GptTrainer.Resume(gpu, steps: 4, quiet: true, log: _ => { });
        Assert.Equal(Device.Cpu, resumed.Model.Device);
        resumed.Fit();
        AssertClose(Losses(cpu4)[^1], Losses(gpu)[^1], "loss at step 4, cpu vs device then cpu");
    }

    private static void AssertClose(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-4 * Math.Abs(expected), $"{what}: {expected} vs {actual}");

    [Fact]
    public void SamplesOnTheDeviceAsOnTheCpu()
    {
        var cfg = Config(1);
        var model = new Gpt(cfg.Model with { VocabSize = 16, NumClasses = 4, BlockSize = 4 }, new Rng(1));
        Crt.Tensors.Nn.Init.Normal(model.Output.Weight, new Rng(2), 0, 0.5f); // LlamaGen zeroes it: the logits would all be 0
        var options = new SamplingOptions { CfgScale = 2f, TopK = 5 };
        var onCpu = Sampler.Generate(model, [0, 3], options, new Rng(8));
        model.To(Gpu);
        var onDevice = Sampler.Generate(model, [0, 3], options, new Rng(8));
        Assert.Equal(onCpu, onDevice);
    }
}
