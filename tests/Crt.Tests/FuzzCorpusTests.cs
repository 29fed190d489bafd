using Crt.Fuzz;
using Xunit;

namespace Crt.Tests;

/// <summary>
/// Replays what fuzzing found (fuzz/seeds, the minimised corpora in fuzz/corpus, and every crash and hang input
/// in fuzz/crashes) through the same harness code AFL ran: each input must parse, or be refused with one of
/// crt's clear errors naming the file. A fixed crash stays fixed; a corpus input that starts crashing fails here.
/// </summary>
public class FuzzCorpusTests
{
    public static TheoryData<string> Targets() => new(FuzzTargets.All.Select(t => t.Name));

    [Theory]
    [MemberData(nameof(Targets))]
    public void EveryKeptInputIsParsedOrRefusedClearly(string name)
    {
        var target = FuzzTargets.Get(name);
        var inputs = new[] { "seeds", "corpus", "crashes" }
            .Select(kind => Path.Combine(FuzzRoot(), kind, name))
            .Where(Directory.Exists)
            .SelectMany(Directory.EnumerateFiles)
            .Where(f => !Path.GetFileName(f).StartsWith('.'))
            .ToList();
        Assert.NotEmpty(inputs); // every target has seeds at least

        string work = Path.Combine(Path.GetTempPath(), $"crt-fuzz-replay-{name}-{Environment.ProcessId}");
        var failures = new List<string>();
        try
        {
            foreach (var file in inputs)
            {
                try { FuzzTargets.Run(target, File.ReadAllBytes(file), work); }
                catch (Exception e) { failures.Add($"{Path.GetRelativePath(FuzzRoot(), file)}: {e.GetType().Name}: {e.Message}"); }
            }
        }
        finally { Directory.Delete(work, recursive: true); }
        Assert.True(failures.Count == 0, $"{failures.Count} of {inputs.Count} inputs fail:\n{string.Join("\n", failures.Take(10))}");
    }

    [Fact]
    public void AClearErrorThatDoesNotNameTheFileIsAFinding()
    {
        var target = new FuzzTarget("unnamed", "x.bin", _ => throw new InvalidDataException("something is wrong"));
        string work = Path.Combine(Path.GetTempPath(), $"crt-fuzz-oracle-{Environment.ProcessId}");
        try
        {
            Assert.Throws<FuzzFinding>(() => FuzzTargets.Run(target, [1, 2, 3], work));
            var crash = new FuzzTarget("crash", "x.bin", _ => throw new NullReferenceException());
            Assert.Throws<NullReferenceException>(() => FuzzTargets.Run(crash, [1], work));
            var named = new FuzzTarget("named", "x.bin", p => throw new InvalidDataException($"{p}: truncated"));
            FuzzTargets.Run(named, [1], work);
        }
        finally { Directory.Delete(work, recursive: true); }
    }

    private static string FuzzRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, "fuzz", "seeds"))) return Path.Combine(d.FullName, "fuzz");
        throw new DirectoryNotFoundException($"fuzz/seeds not found above {AppContext.BaseDirectory}");
    }
}
