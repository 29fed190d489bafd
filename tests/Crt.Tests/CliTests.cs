using Crt.Cli;
using Xunit;

namespace Crt.Tests;

/// <summary>The crt command's handling of bad input: one line on stderr, a non-zero exit code, no stack trace.</summary>
[Collection("console")]
public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-cli-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Err) Run(params string[] args)
    {
        var err = new StringWriter();
        var old = Console.Error;
        Console.SetError(err);
        try { return (Program.Main(args), err.ToString()); }
        finally { Console.SetError(old); }
    }

    [Fact]
    public void UnknownOptionsKeysAndCommandsAreOneClearLine()
    {
        var (code, err) = Run("tokenizer", "train", "--bogus", "1");
        Assert.Equal(2, code);
        Assert.Contains("unknown option --bogus; valid options:", err);

        (code, err) = Run("tokenizer", "train", "--set", "crt.lambda=3", "--out", Path.Combine(_dir, "r"));
        Assert.Equal(1, code);
        Assert.Contains("unknown config key 'crt.lambda'", err);
        Assert.Contains("crt.lambda_max", err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "r")) && File.Exists(Path.Combine(_dir, "r", "config.json")));

        (code, err) = Run("frobnicate");
        Assert.Equal(2, code);
        Assert.Contains("unknown command 'frobnicate'", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void MissingInputsNameThePath()
    {
        var (code, err) = Run("tokenizer", "train", "--data", Path.Combine(_dir, "nowhere"), "--out", Path.Combine(_dir, "r2"));
        Assert.Equal(1, code);
        Assert.Contains("nowhere", err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "r2"))); // nothing left behind to block a corrected retry

        (code, err) = Run("gpt", "eval", "--gpt", Path.Combine(_dir, "nogpt"), "--tokens", "x.tokens");
        Assert.Equal(1, code);
        Assert.Contains("nogpt", err);

        (code, err) = Run("sample", "--gpt", Path.Combine(_dir, "nogpt"), "--tokenizer", "t", "--top-p", "1.5");
        Assert.Equal(1, code);
        Assert.Single(err.Trim().Split('\n'));
    }
}

public class ConfigFileTests
{
    [Fact]
    public void EveryShippedConfigResolvesAgainstItsPreset()
    {
        var dir = Path.GetDirectoryName(TestData.File("parity/gpt.safetensors"))!;
        var configs = Path.GetFullPath(Path.Combine(dir, "../../../../configs"));
        // Sweep plans are not run configs (ScalingPlanTests loads them).
        var files = Directory.GetFiles(configs, "*.json").Where(f => !Path.GetFileName(f).StartsWith("sweep-", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(files);
        foreach (var f in files)
        {
            var preset = Crt.Training.ConfigResolver.PresetOf(f)!;
            Assert.False(string.IsNullOrEmpty(preset), $"{f} names no preset");
            if (preset.StartsWith("gpt", StringComparison.Ordinal))
                Assert.Equal(preset, Crt.Training.ConfigResolver.Resolve(Crt.Training.GptTrainConfig.ForPreset(preset), f, Array.Empty<string>()).Preset);
            else
                Crt.Training.ConfigResolver.Resolve(Crt.Training.TokenizerTrainConfig.ForPreset(preset), f, Array.Empty<string>()).Model.Validate();
        }
    }
}
