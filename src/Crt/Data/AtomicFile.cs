using Crt.Tensors.IO;

namespace Crt.Data;

/// <summary>
/// Writes to PATH.tmp-… and renames over PATH, so a crash never leaves a torn file, and a failed write (a full disk)
/// leaves the previous file as it was: the error names PATH and says so, and the temporary file is removed.
/// </summary>
public static class AtomicFile
{
    public static unsafe void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        // A span cannot enter the lambda; the pinned pointer can, and Write runs it before returning (no copy).
        fixed (byte* p = bytes)
        {
            nint at = (nint)p;
            int length = bytes.Length;
            Write(path, s => s.Write(new ReadOnlySpan<byte>((byte*)at, length)));
        }
    }

    /// <summary>Runs <paramref name="write"/> on a stream to a temporary file, flushes it to disk, then renames it over <paramref name="path"/>.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var tmp = TempFiles.NameFor(path);
        try
        {
            using (var f = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                write(f);
                f.Flush(true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new IOException($"{path}: could not be written ({e.Message.TrimEnd('.')}); " +
                (File.Exists(path) ? "the previous file is unchanged" : "nothing was written"), e);
        }
        finally { if (File.Exists(tmp)) File.Delete(tmp); }
    }

    public static void WriteAllText(string path, string text) => WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(text));
}
