using Crt.Tensors;
using Crt.Training;
using Xunit;

namespace Crt.Tests;

/// <summary>
/// vq-tiny + CRT trained on "ilgpu-cpu" (the CUDA backend's kernels on ILGPU's CPU accelerator): the same losses and
/// weights as on the CPU, and a run that resumes on the CPU. Two steps only: the accelerator runs every GPU thread as
/// managed code.
/// </summary>
public sealed class TokenizerDeviceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-tok-device-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>vq-tiny, CRT on, the discriminator from step 1 (so its BatchNorm and hinge loss run), no dropout anywhere.</summary>
    private static TokenizerTrainConfig Tiny(long steps) => TokenizerTrainConfig.ForPreset("vq-tiny") with
    {
        Steps = steps, BatchSize = 2, ValEvery = 2, ValImages = 4, CheckpointEvery = 2, ImageEvery = 2,
        Crt = new() { RampSteps = 1 }, DiscStart = 1, DiscChannels = 8,
    };

    [Fact]
    public void TrainsOnTheDeviceAsOnTheCpu()
    {
        string cpu = Path.Combine(_dir, "cpu"), gpu = Path.Combine(_dir, "gpu");
        TokenizerTrainer.Create(Tiny(2), cpu, quiet: true, log: _ => { }).Train();
        var onDevice = TokenizerTrainer.Create(Tiny(2), gpu, quiet: true, log: _ => { }, device: Device.Parse("ilgpu-cpu"));
        Assert.Equal("ilgpu-cpu", onDevice.Model.Device.Name);
        onDevice.Train();

        Dictionary<string, double> Last(string dir, string kind) => RunDirectory.OpenToRead(dir).ReadMetrics().Last(m => (string?)m["kind"] == kind)
            .Where(kv => kv.Value is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<double>(out _)).ToDictionary(kv => kv.Key, kv => (double)kv.Value!);
        foreach (var kind in new[] { "train", "val" })
        {
            var (a, b) = (Last(cpu, kind), Last(gpu, kind));
            foreach (var key in new[] { "loss", "rec_loss", "crt_loss", "disc_loss", "psnr" }.Where(a.ContainsKey))
                Assert.True(Math.Abs(a[key] - b[key]) <= 2e-4 * Math.Max(1, Math.Abs(a[key])), $"{kind} {key}: cpu {a[key]}, device {b[key]}");
        }
        var wa = Crt.Tensors.IO.SafeTensors.Load(Path.Combine(cpu, "checkpoints", "step-0000002", "model.safetensors"));
        var wb = Crt.Tensors.IO.SafeTensors.Load(Path.Combine(gpu, "checkpoints", "step-0000002", "model.safetensors"));
        foreach (var (name, t) in wa)
        {
            double err = t.ToArray().Zip(wb[name].ToArray(), (x, y) => Math.Abs((double)x - y)).DefaultIfEmpty(0).Max();
            Assert.True(err < 1e-4, $"{name}: the device's weights differ from the CPU's by {err}");
        }
        var resumed = TokenizerTrainer.Resume(gpu, steps: 3, quiet: true, log: _ => { });
        Assert.Equal(Device.Cpu, resumed.Model.Device);
        Assert.Equal(3, resumed.Train().Steps);
    }
}
