using System.Diagnostics;
using Crt.Data;
using Crt.Training;
using Xunit;

namespace Crt.Tests;

/// <summary>
/// One writer per run directory, and writes that fail (a full disk) losing nothing. The other process is util-linux's
/// flock(1), which takes the same kernel lock (flock) that .NET takes for FileShare.None.
/// </summary>
public class RunLockTests
{
    private static Process Flock(string file, string command, bool wait = false)
    {
        // -o: the lock stays with flock itself (not inherited by the command), so killing flock releases it.
        // -n (no waiting) for probes; a holder waits, or it could lose the race against a probe that holds the lock for an instant.
        string[] args = wait ? ["-o", file, "sh", "-c", command] : ["-n", "-o", file, "sh", "-c", command];
        return Process.Start(new ProcessStartInfo("flock", args) { RedirectStandardError = true })!;
    }

    private static bool HeldElsewhere(string dir)
    {
        using var probe = Flock(Path.Combine(dir, ".lock"), "true");
        probe.WaitForExit();
        return probe.ExitCode == 1;
    }

    [Fact]
    public void ASecondWriterIsRefusedNamingTheHolderAndAStaleLockIsTakenOver()
    {
        var dir = Directory.CreateTempSubdirectory("crt-lock").FullName;
        var holders = new List<Process>();
        try
        {
            File.WriteAllText(Path.Combine(dir, "config.json"), "{}");
            var run = RunDirectory.Open(dir, resume: true);
            Assert.True(RunLock.IsHeld(run.Root));
            Assert.Contains(Environment.ProcessId.ToString(), File.ReadAllText(Path.Combine(dir, ".lock.owner")));
            Assert.True(HeldElsewhere(dir)); // another process cannot take it while we hold it
            RunLock.Release(run.Root);
            Assert.False(File.Exists(Path.Combine(dir, ".lock.owner")));

            // another process holds the lock and has named itself: a writer here is refused with its name
            File.WriteAllText(Path.Combine(dir, ".lock.owner"), "process 4242 on elsewhere (crt gpt train …)");
            // sleeps far longer than the test can take (it is killed below): on a loaded machine 30 s could pass
            // between taking the lock and the refusal checked below, and the lock would be free again. It waits for the
            // lock: the probes below hold it for an instant, and a holder that gave up then would never take it.
            var holder = Flock(Path.Combine(dir, ".lock"), "sleep 600", wait: true);
            holders.Add(holder);
            // a loaded machine can take seconds to start flock: wait for it (generously), and say so if it never came
            for (var until = DateTime.UtcNow.AddSeconds(60); !HeldElsewhere(dir) && DateTime.UtcNow < until;) Thread.Sleep(20);
            Assert.True(HeldElsewhere(dir), "the flock holder process did not take the lock within 60 s" +
                (holder.HasExited ? $" (it exited with {holder.ExitCode}: {holder.StandardError.ReadToEnd().Trim()})" : ""));
            var e = Assert.Throws<RunDirectoryInUseException>(() => RunDirectory.Open(dir, resume: true));
            Assert.Equal($"{Path.GetFullPath(dir)}: the run directory is in use by process 4242 on elsewhere (crt gpt train …); wait for it to finish or stop it first", e.Message);

            // it dies (killed: its owner file stays): the lock is stale, the next writer takes it and says whose it was
            holder.Kill(entireProcessTree: true);
            holder.WaitForExit();
            var said = new List<string>();
            RunDirectory.Open(dir, resume: true, said.Add);
            Assert.Contains(said, s => s.Contains("took over the lock left by process 4242"));
        }
        finally
        {
            foreach (var h in holders) // a failed assertion leaves no sleeper behind
            {
                if (!h.HasExited) h.Kill(entireProcessTree: true);
                h.Dispose();
            }
            RunLock.Release(Path.GetFullPath(dir));
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void AFailedWriteLeavesThePreviousFileAndNoTemporaryBehind()
    {
        var dir = Directory.CreateTempSubdirectory("crt-full").FullName;
        try
        {
            var path = Path.Combine(dir, "train.tokens");
            File.WriteAllText(path, "previous");
            var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, s =>
            {
                s.Write(new byte[4096]);
                throw new IOException("No space left on device"); // what the OS reports when the disk fills mid-write
            }));
            Assert.Equal($"{path}: could not be written (No space left on device); the previous file is unchanged", e.Message);
            Assert.Equal("previous", File.ReadAllText(path));
            Assert.Single(Directory.GetFiles(dir));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ACheckpointThatCannotBeWrittenKeepsTheLastCompleteOne()
    {
        var dir = Directory.CreateTempSubdirectory("crt-full").FullName;
        try
        {
            var run = RunDirectory.Open(Path.Combine(dir, "run"), resume: false);
            run.SaveCheckpoint(100, d => File.WriteAllText(Path.Combine(d, "state.json"), "{}"));
            var e = Assert.Throws<IOException>(() => run.SaveCheckpoint(200, d =>
            {
                File.WriteAllText(Path.Combine(d, "model.safetensors"), "partial");
                throw new IOException("No space left on device");
            }));
            Assert.Equal($"{run.CheckpointDir(200)}: the checkpoint could not be written (No space left on device); the newest complete checkpoint is still step-0000100", e.Message);
            Assert.Equal(run.CheckpointDir(100), run.LatestCheckpoint());
            Assert.False(Directory.Exists(run.CheckpointDir(200) + ".tmp"));
            Assert.False(Directory.Exists(run.CheckpointDir(200)));
            RunLock.Release(run.Root);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void OpeningARunRemovesWhatAKilledWriterLeftHalfWrittenAndNothingElse()
    {
        var dir = Directory.CreateTempSubdirectory("crt-leftovers").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "config.json"), "{}");
            var ckpts = Path.Combine(dir, "checkpoints");
            Directory.CreateDirectory(Path.Combine(ckpts, "step-0000100"));
            Directory.CreateDirectory(Path.Combine(ckpts, "step-0000200.tmp"));
            using var gone = Process.Start("true")!;
            gone.WaitForExit();
            string Temp(string name, int pid) => Path.Combine(dir, $"{name}.tmp-{pid}-{Guid.NewGuid():N}");
            string dead = Temp("metrics.jsonl", gone.Id), live = Temp("report.html", Environment.ProcessId);
            string deadInCheckpoint = Temp(Path.Combine("checkpoints", "step-0000100", "model.safetensors"), gone.Id);
            string notOurs = Path.Combine(dir, "notes.tmp-keep");
            foreach (var f in new[] { dead, live, deadInCheckpoint, notOurs }) File.WriteAllText(f, "x");

            var said = new List<string>();
            var run = RunDirectory.Open(dir, resume: true, said.Add);
            RunLock.Release(run.Root);

            Assert.False(Directory.Exists(Path.Combine(ckpts, "step-0000200.tmp")));
            Assert.True(Directory.Exists(Path.Combine(ckpts, "step-0000100")));
            Assert.False(File.Exists(dead));
            Assert.False(File.Exists(deadInCheckpoint));
            Assert.True(File.Exists(live));    // a live process may still be writing it
            Assert.True(File.Exists(notOurs)); // not named as crt names its temporary files
            Assert.Contains(said, s => s.Contains("1 checkpoint folder(s), 2 temporary file(s)"));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
