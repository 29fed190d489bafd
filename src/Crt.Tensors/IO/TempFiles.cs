using System.Diagnostics;

namespace Crt.Tensors.IO;

/// <summary>
/// The temporary files that atomic writes go through (PATH.tmp-PID-RANDOM, renamed over PATH when complete). The
/// writer's process id is in the name, so that files left by a process that was killed mid-write can be told
/// from files another live process is still writing, and removed.
/// </summary>
public static class TempFiles
{
    private const string Marker = ".tmp-";

    public static string NameFor(string path) => $"{path}{Marker}{Environment.ProcessId}-{Guid.NewGuid():N}";

    /// <summary>Removes, in <paramref name="dir"/> (and its subfolders when asked), every temporary file whose writer is no longer running; returns how many.</summary>
    public static int RemoveStale(string dir, bool subfolders = true)
    {
        if (!Directory.Exists(dir)) return 0;
        int removed = 0;
        foreach (var file in Directory.EnumerateFiles(dir, $"*{Marker}*", subfolders ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly))
            if (RemoveIfStale(file)) removed++;
        return removed;
    }

    /// <summary>Removes the temporary files of <paramref name="path"/> itself (PATH.tmp-…) whose writers are no longer running.</summary>
    public static void RemoveStaleOf(string path)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir)) return;
        foreach (var file in Directory.EnumerateFiles(dir, Path.GetFileName(path) + Marker + "*"))
            RemoveIfStale(file);
    }

    /// <summary>Deletes <paramref name="file"/> when it is one of ours and its writer is no longer running; true if it did.</summary>
    private static bool RemoveIfStale(string file)
    {
        if (WriterOf(file) is not { } pid || IsRunning(pid)) return false;
        try { File.Delete(file); return true; }
        catch (IOException) { return false; } // gone already, or not ours to remove: leave it
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>The process id in a temporary file's name, or null when the name is not one of ours.</summary>
    internal static int? WriterOf(string file)
    {
        string name = Path.GetFileName(file);
        int at = name.LastIndexOf(Marker, StringComparison.Ordinal);
        if (at < 0) return null;
        var rest = name.AsSpan(at + Marker.Length);
        int dash = rest.IndexOf('-');
        return dash > 0 && int.TryParse(rest[..dash], out int pid) && pid > 0 && rest.Length - dash - 1 == 32 ? pid : null;
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; } // no such process
        catch (InvalidOperationException) { return false; }
    }
}
