using Crt.Data;
using Crt.Tensors;
using Crt.Tensors.IO;
using Crt.Training;
using SharpFuzz;

namespace Crt.Fuzz;

/// <summary>
/// crt's fuzz harness.
///   afl TARGET            the AFL entry point (run under afl-fuzz by fuzz/run.sh; the crt assemblies instrumented)
///   replay TARGET FILE…   runs inputs through a target and prints what each did (exit 1 if any is a finding)
///   seeds DIR             writes seed inputs in crt's own formats (fuzz/make_seeds.py adds torch files and images)
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        switch (args)
        {
            case ["afl", var name]:
            {
                var target = FuzzTargets.Get(name);
                string work = WorkDir();
                Fuzzer.OutOfProcess.Run(stream =>
                {
                    using var ms = new MemoryStream();
                    stream.CopyTo(ms);
                    FuzzTargets.Run(target, ms.GetBuffer().AsSpan(0, (int)ms.Length), work);
                });
                return 0;
            }
            case ["replay", var name, .. var files]:
                return Replay(FuzzTargets.Get(name), files);
            case ["seeds", var dir]:
                Seeds.Write(dir);
                return 0;
            default:
                Console.Error.WriteLine("usage: Crt.Fuzz afl TARGET | replay TARGET FILE... | seeds DIR");
                Console.Error.WriteLine($"targets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
                return 2;
        }
    }

    private static int Replay(FuzzTarget target, string[] files)
    {
        string work = WorkDir();
        int findings = 0;
        foreach (var file in files)
        {
            try
            {
                FuzzTargets.Run(target, File.ReadAllBytes(file), work);
                Console.WriteLine($"ok       {file}");
            }
            catch (Exception e)
            {
                findings++;
                Console.WriteLine($"FINDING  {file}\n{e}\n");
            }
        }
        return findings == 0 ? 0 : 1;
    }

    /// <summary>A scratch folder per process, in memory where Linux offers one (the harness writes every input to it).</summary>
    private static string WorkDir()
    {
        string root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        string dir = Path.Combine(root, $"crt-fuzz-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        return dir;
    }
}
