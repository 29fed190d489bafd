using System.Diagnostics;
using Xunit;

namespace Crt.Tests;

/// <summary>
/// The short version of tools/kill_trials.py: `crt tokenizer train` in a child process, killed with SIGKILL once its
/// first checkpoint is out, then continued with --resume, ends with the same weights as an uninterrupted run.
/// </summary>
public class KillTrialTests
{
    private static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "Crt.Cli.dll");

    private static Process Start(string data, string outDir, bool resume)
    {
        var args = new List<string> { Cli, "tokenizer", "train", "--out", outDir, "--quiet" };
        if (resume) args.Add("--resume");
        else args.AddRange(new[] { "--data", data, "--set", "steps=12", "--set", "checkpoint_every=3", "--set", "val_every=12",
            "--set", "image_every=12", "--set", "val_images=50", "--set", "batch_size=8" });
        var info = new ProcessStartInfo("dotnet", args) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.Environment["CRT_THREADS"] = "2"; // the same thread count for every run: the same summation order
        return Process.Start(info)!;
    }

    private static void Finish(Process p)
    {
        string err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(300_000), "the run did not finish in 5 minutes");
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {err}");
    }

    private static byte[] FinalWeights(string run)
    {
        var latest = File.ReadAllText(Path.Combine(run, "checkpoints", "latest")).Trim();
        Assert.Equal("step-0000012", latest);
        return File.ReadAllBytes(Path.Combine(run, "checkpoints", latest, "model.safetensors"));
    }

    [Fact]
    public void TokenizerTrainingKilledAfterACheckpointResumesToTheSameWeights()
    {
        var dir = Directory.CreateTempSubdirectory("crt-kill").FullName;
        try
        {
            var data = StripesDataset.Write(Path.Combine(dir, "data"), 5200, 60);
            string straight = Path.Combine(dir, "straight"), killed = Path.Combine(dir, "killed");
            Finish(Start(data, straight, resume: false));

            var p = Start(data, killed, resume: false);
            var latest = Path.Combine(killed, "checkpoints", "latest");
            var until = DateTime.UtcNow.AddMinutes(5);
            while (!p.HasExited && !File.Exists(latest) && DateTime.UtcNow < until) Thread.Sleep(20);
            Assert.False(p.HasExited, "the run ended before its first checkpoint could be interrupted");
            p.Kill(entireProcessTree: true); // SIGKILL: no handler runs, nothing is flushed or cleaned up
            p.WaitForExit();
            Assert.NotEqual("step-0000012", File.ReadAllText(latest).Trim());

            Finish(Start(data, killed, resume: true));
            Assert.Equal(FinalWeights(straight), FinalWeights(killed));
        }
        finally { Directory.Delete(dir, true); }
    }
}
