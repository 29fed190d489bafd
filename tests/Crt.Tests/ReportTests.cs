using System.Text.Json.Nodes;
using Crt.Cli;
using Crt.Reporting;
using Xunit;

namespace Crt.Tests;

/// <summary>report.html from run directories' files: tables with the runs' numbers, curves, and crt report's handling of folders.</summary>
[Collection("console")]
public sealed class ReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-report-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string FakeRun(string path, JsonObject config, params string[] metrics)
    {
        var root = Path.Combine(_dir, path);
        Directory.CreateDirectory(root);
        File.WriteAllText(Path.Combine(root, "config.json"), config.ToJsonString());
        File.WriteAllLines(Path.Combine(root, "metrics.jsonl"), metrics);
        return root;
    }

    private string Tokenizer(string path, double lambda, double psnr) => FakeRun(path,
        new JsonObject { ["preset"] = "vq-tiny", ["model"] = new JsonObject { ["codebook_size"] = 512 }, ["crt"] = new JsonObject { ["enabled"] = true, ["lambda_max"] = lambda } },
        """{"kind":"train","step":10,"loss":0.5,"rec_loss":0.4,"crt_loss":0.05,"flops":1e12}""",
        """{"kind":"train","step":20,"loss":0.3,"rec_loss":0.2,"crt_loss":0.04,"flops":2e12}""",
        $$"""{"kind":"val","step":20,"psnr":{{psnr}},"ssim":0.7,"codebook_usage":0.9,"code_entropy_bits":6.5,"crt_loss":0.04,"flops":2e12}""");

    private string Gpt(string path, double ce) => FakeRun(path,
        new JsonObject { ["preset"] = "gpt-t1", ["tokens"] = "train.tokens" },
        """{"kind":"train","step":10,"loss":4.0,"flops":1e11}""",
        $$"""{"kind":"val","step":10,"ce_per_token":{{ce}},"ce_position0":2.3,"bits_per_image":150.5,"ce_per_position":[2.3,1.5,1.25],"flops":1e11}""");

    [Fact]
    public void OneRunsReportHasItsNumbersCurvesAndConfig()
    {
        var tok = Tokenizer("tok", 4, 21.25);
        var path = RunReport.WriteForRun(tok);
        var html = File.ReadAllText(path);
        Assert.Equal(Path.Combine(tok, "report.html"), path);
        Assert.Contains("validation PSNR (dB)", html);
        Assert.Contains("21.25", html);
        Assert.Contains("<svg", html);
        Assert.Contains("Reconstruction loss (training)", html);
        Assert.Contains("&quot;lambda_max&quot;: 4", html);
        Assert.DoesNotContain("GPT", html.Replace("GPT run", ""));
    }

    [Fact]
    public void AFolderOfRunsIsComparedAndRepeatedNamesAreTold()
    {
        Tokenizer("a/baseline", 0, 20.5);
        Tokenizer("b/baseline", 0, 19.75);
        Gpt("a/gpt", 1.8125);
        var outFile = Path.Combine(_dir, "cmp.html");
        var (code, _) = Run("report", Path.Combine(_dir, "a"), Path.Combine(_dir, "b", "baseline"), "--out", outFile);
        Assert.Equal(0, code);
        var html = File.ReadAllText(outFile);
        Assert.Contains("a/baseline", html);
        Assert.Contains("b/baseline", html);
        Assert.Contains("20.50", html);
        Assert.Contains("19.75", html);
        Assert.Contains("1.8125", html);                   // the GPT's validation CE
        Assert.Contains("CE per token position", html);
        Assert.Contains("λ_max = 0 is a baseline", html);
    }

    [Fact]
    public void AFolderWithoutRunsIsOneClearLine()
    {
        var empty = Path.Combine(_dir, "empty");
        Directory.CreateDirectory(empty);
        var (code, err) = Run("report", empty);
        Assert.Equal(2, code);
        Assert.Contains("neither a run directory", err);
        File.WriteAllText(Path.Combine(empty, "config.json"), "{\"x\": 1}");
        (code, err) = Run("report", empty);
        Assert.Equal(1, code);
        Assert.Contains("neither a tokenizer run", err);
        Assert.DoesNotContain("   at ", err);
    }

    private static (int Code, string Err) Run(params string[] args)
    {
        var err = new StringWriter();
        var (oldErr, oldOut) = (Console.Error, Console.Out);
        Console.SetError(err);
        Console.SetOut(new StringWriter());
        try { return (Program.Main(args), err.ToString()); }
        finally { Console.SetError(oldErr); Console.SetOut(oldOut); }
    }
}
