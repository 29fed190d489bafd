using System.Globalization;

namespace Crt.Training;

/// <summary>A run directory another process is writing.</summary>
public sealed class RunDirectoryInUseException(string message) : IOException(message);

/// <summary>
/// One writer per run directory. A writer holds an exclusive lock on ROOT/.lock (.NET takes it with flock when a file
/// is opened with FileShare.None) for as long as its process lives, and names itself in ROOT/.lock.owner (process id,
/// command line, host, start time) so a second writer's refusal can say who holds the directory. The kernel drops a
/// flock when its process dies, however it dies, so a lock left by a killed process is stale by construction: the next
/// writer takes it, and its owner file (not removed by a killed process) says whose it was. Readers (eval, sample, a
/// sweep's report) take no lock: reading a run that is still training is allowed. Locks are per host: flock does not
/// reach across machines on every network filesystem.
/// </summary>
public static class RunLock
{
    private static readonly Dictionary<string, FileStream> Held = new(StringComparer.Ordinal);
    private static bool _releaseOnExit;

    private static string LockPath(string root) => Path.Combine(root, ".lock");
    private static string OwnerPath(string root) => Path.Combine(root, ".lock.owner");

    /// <summary>
    /// Takes the lock of <paramref name="root"/> (an existing folder) for this process, or throws
    /// <see cref="RunDirectoryInUseException"/> naming the process that holds it. Taking it again in the same process is a
    /// no-op (a demo or a test reopens its own runs). Returns the owner a stale lock named, or null.
    /// </summary>
    public static string? Acquire(string root)
    {
        lock (Held)
        {
            if (Held.ContainsKey(root)) return null;
            FileStream handle;
            try { handle = new FileStream(LockPath(root), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
            {
                string owner = ReadOwner(root) ?? "another process (it did not name itself)";
                throw new RunDirectoryInUseException($"{root}: the run directory is in use by {owner}; wait for it to finish or stop it first");
            }
            string? stale = ReadOwner(root);
            Data.AtomicFile.WriteAllText(OwnerPath(root), Describe() + "\n");
            Held[root] = handle;
            if (!_releaseOnExit) AppDomain.CurrentDomain.ProcessExit += (_, _) => ReleaseAll();
            _releaseOnExit = true;
            return stale;
        }
    }

    /// <summary>Whether this process holds the lock of <paramref name="root"/>.</summary>
    public static bool IsHeld(string root) { lock (Held) return Held.ContainsKey(root); }

    /// <summary>Gives up the lock of <paramref name="root"/> (its owner file first, so no reader sees a stale owner).</summary>
    public static void Release(string root)
    {
        lock (Held)
        {
            if (!Held.Remove(root, out var handle)) return;
            try { File.Delete(OwnerPath(root)); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            handle.Dispose();
        }
    }

    private static void ReleaseAll()
    {
        string[] roots;
        lock (Held) roots = Held.Keys.ToArray();
        foreach (var r in roots) Release(r);
    }

    private static string? ReadOwner(string root)
    {
        try { return File.Exists(OwnerPath(root)) ? File.ReadAllText(OwnerPath(root)).Trim() is { Length: > 0 } s ? s : null : null; }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static string Describe()
    {
        var args = Environment.GetCommandLineArgs();
        string command = args.Length > 1 ? "crt " + string.Join(' ', args.Skip(1)) : args.FirstOrDefault() ?? "?";
        if (command.Length > 200) command = command[..200] + "…";
        return string.Create(CultureInfo.InvariantCulture,
            $"process {Environment.ProcessId} on {Environment.MachineName} ({command}), since {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC");
    }
}
