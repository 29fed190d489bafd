using System.Diagnostics;
using Xunit;

namespace Crt.Tests;

/// <summary>
/// The short version of tools/kill_trials.py: `crt tokenizer train` in a child process, killed with SIGKILL (or stopped
/// with SIGTERM) once its first checkpoint is out, then continued with --resume, ends with the same weights as an
/// uninterrupted run.
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

    /// <summary>Starts a run, waits for its first checkpoint, and stops it there with the given signal.</summary>
    private static Process StopAfterFirstCheckpoint(string data, string run, Action<Process> stop)
    {
        var p = Start(data, run, resume: false);
        var latest = Path.Combine(run, "checkpoints", "latest");
        var until = DateTime.UtcNow.AddMinutes(5);
        while (!p.HasExited && !File.Exists(latest) && DateTime.UtcNow < until) Thread.Sleep(20);
        Assert.False(p.HasExited, "the run ended before its first checkpoint could be interrupted");
        stop(p);
        return p;
    }

    [Fact]
    public void TokenizerTrainingKilledOrTerminatedResumesToTheSameWeights()
    {
        var dir = Directory.CreateTempSubdirectory("crt-kill").FullName;
        try
        {
            var data = StripesDataset.Write(Path.Combine(dir, "data"), 5200, 60);
            string straight = Path.Combine(dir, "straight"), killed = Path.Combine(dir, "killed"), terminated = Path.Combine(dir, "terminated");
            Finish(Start(data, straight, resume: false));

            // SIGKILL: no handler runs, nothing is flushed or cleaned up.
            var p = StopAfterFirstCheckpoint(data, killed, q => q.Kill(entireProcessTree: true));
            p.WaitForExit();
            Assert.NotEqual("step-0000012", File.ReadAllText(Path.Combine(killed, "checkpoints", "latest")).Trim());
            Finish(Start(data, killed, resume: true));
            Assert.Equal(FinalWeights(straight), FinalWeights(killed));

            // SIGTERM: stops after the step it is in, as Ctrl-C does, saving that step; exit 0 and "stopped".
            var t = StopAfterFirstCheckpoint(data, terminated, q => Process.Start("kill", ["-TERM", q.Id.ToString()])!.WaitForExit());
            string err = t.StandardError.ReadToEnd(), output = t.StandardOutput.ReadToEnd();
            Assert.True(t.WaitForExit(60_000), "SIGTERM did not stop the run within a minute");
            Assert.True(t.ExitCode == 0, $"exit {t.ExitCode}: {err}");
            Assert.Contains("SIGTERM: stopping after this step", err);
            var stopped = System.Text.RegularExpressions.Regex.Match(output, @"stopped: (\d+) steps");
            Assert.True(stopped.Success, $"no 'stopped: N steps' in: {output}");
            Assert.Equal($"step-{int.Parse(stopped.Groups[1].Value):D7}", File.ReadAllText(Path.Combine(terminated, "checkpoints", "latest")).Trim());
            Finish(Start(data, terminated, resume: true));
            Assert.Equal(FinalWeights(straight), FinalWeights(terminated));
        }
        finally { Directory.Delete(dir, true); }
    }
}
