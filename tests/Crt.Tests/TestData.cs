namespace Crt.Tests;

/// <summary>Finds committed test data (tests/Crt.Tests/data/...) from the test binary's folder.</summary>
internal static class TestData
{
    public static string File(string relative)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var f = Path.Combine(d.FullName, "tests", "Crt.Tests", "data", relative);
            if (System.IO.File.Exists(f)) return f;
        }
        throw new FileNotFoundException($"test data {relative} not found above {AppContext.BaseDirectory}");
    }
}
