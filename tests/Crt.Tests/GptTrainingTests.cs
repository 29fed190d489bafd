using Crt.Cli;
using Crt.Data;
using Crt.Tensors;
using Crt.Training;
using Xunit;

namespace Crt.Tests;

[Collection("console")]
public sealed class GptTrainingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-gpt-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A token store of 64 images × 2 variants of 4×4 codes from a 32-entry codebook, 10 classes.</summary>
    private string Store(string name, int codebook = 32)
    {
        var rng = new Rng(3);
        var codes = Enumerable.Range(0, 64 * 2 * 16).Select(i => (i / 16 % 7 + rng.NextInt(3)) % codebook).ToArray();
        var labels = Enumerable.Range(0, 64).Select(i => i % 10).ToArray();
        var path = Path.Combine(_dir, name);
        TokenStore.Write(path, new TokenStoreHeader
        {
            TokenizerSha256 = "ab" + new string('0', 62), GridHeight = 4, GridWidth = 4, CodebookSize = codebook, NumClasses = 10, Count = 64, Variants = 2,
        }, codes, labels);
        return path;
    }

    private GptTrainConfig Config(long steps) => GptTrainConfig.ForPreset("gpt-t1") with
    {
        Tokens = Store("train.tokens"), ValTokens = Store("val.tokens"), Steps = steps, BatchSize = 8, ValEvery = 3, ValSequences = 16, CheckpointEvery = 3,
    };

    [Fact]
    public void ResumesExactlyAndValidatesPerPosition()
    {
        var straight = Path.Combine(_dir, "straight");
        GptTrainer.Create(Config(6), straight, quiet: true, log: _ => { }).Fit();
        Assert.Contains("validation CE per token", File.ReadAllText(Path.Combine(straight, "report.html")));
        var split = Path.Combine(_dir, "split");
        GptTrainer.Create(Config(3), split, quiet: true, log: _ => { }).Fit();
        var resumed = GptTrainer.Resume(split, steps: 6, quiet: true, log: _ => { });
        Assert.Equal(3, resumed.Step);
        resumed.Fit();

        double LastLoss(string dir) => (double)RunDirectory.OpenToRead(dir).ReadMetrics().Last(m => (string?)m["kind"] == "train")["loss"]!;
        Assert.Equal(LastLoss(straight), LastLoss(split), 5);
        var a = Crt.Tensors.IO.SafeTensors.Load(Path.Combine(straight, "checkpoints", "step-0000006", "model.safetensors"));
        var b = Crt.Tensors.IO.SafeTensors.Load(Path.Combine(split, "checkpoints", "step-0000006", "model.safetensors"));
        foreach (var (name, t) in a)
            Assert.True(t.ToArray().Zip(b[name].ToArray(), (x, y) => Math.Abs(x - y)).Max() < 1e-5, $"{name} differs after resume");

        var val = RunDirectory.OpenToRead(straight).ReadMetrics().Last(m => (string?)m["kind"] == "val");
        Assert.Equal(16, val["ce_per_position"]!.AsArray().Count);
        Assert.True((double)val["ce_position0"]! > 0);
    }

    /// <summary>
    /// A run's training seconds are summed over every process that trained it: a resumed run starts from what its
    /// checkpoint recorded. A checkpoint made before seconds were recorded leaves the total unknown, not understated.
    /// </summary>
    [Fact]
    public void ACheckpointCarriesTheRunsTrainingSecondsAcrossProcesses()
    {
        var dir = Path.Combine(_dir, "seconds");
        var first = GptTrainer.Create(Config(3), dir, quiet: true, log: _ => { });
        first.Fit();
        var step3 = CheckpointSeconds.Latest(dir);
        Assert.True(CheckpointSeconds.Read(step3) is > 0 and var s && s == first.SecondsSpent, $"step 3 records {CheckpointSeconds.Read(step3)} s, the trainer says {first.SecondsSpent}");

        CheckpointSeconds.Write(step3, 1000); // as if the first process had trained for 1000 s
        var resumed = GptTrainer.Resume(dir, steps: 6, quiet: true, log: _ => { });
        Assert.Equal(1000, resumed.SecondsSpent);
        resumed.Fit();
        Assert.True(resumed.SecondsSpent > 1000);
        Assert.Equal(resumed.SecondsSpent, CheckpointSeconds.Read(CheckpointSeconds.Latest(dir)));

        CheckpointSeconds.Write(CheckpointSeconds.Latest(dir), null);
        var unknown = GptTrainer.Resume(dir, steps: 9, quiet: true, log: _ => { });
        unknown.Fit();
        Assert.Null(unknown.SecondsSpent);
        Assert.Null(CheckpointSeconds.Read(CheckpointSeconds.Latest(dir)));

        CheckpointSeconds.Write(CheckpointSeconds.Latest(dir), -1);
        var err = Assert.Throws<InvalidDataException>(() => GptTrainer.Resume(dir, steps: 12, quiet: true, log: _ => { }));
        Assert.Contains(CheckpointSeconds.Latest(dir), err.Message);
        Assert.Contains("seconds is not a finite number", err.Message);
    }

    [Fact]
    public void EvalRefusesTokensFromAnotherCodebook()
    {
        var run = Path.Combine(_dir, "run");
        GptTrainer.Create(Config(1), run, quiet: true, log: _ => { }).Fit();
        var other = Store("other.tokens", codebook: 64);
        var err = new StringWriter();
        var old = Console.Error;
        Console.SetError(err);
        int code;
        try { code = Program.Main(new[] { "gpt", "eval", "--gpt", run, "--tokens", other }); }
        finally { Console.SetError(old); }
        Assert.Equal(1, code);
        Assert.Contains("codebook of 64", err.ToString());
        Assert.Contains("models 32 codes", err.ToString());
    }
}
