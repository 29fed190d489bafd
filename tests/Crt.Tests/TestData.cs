namespace Crt.Tests;

/// <summary>Finds committed test data (and compares against it) (tests/Crt.Tests/data/...) from the test binary's folder.</summary>
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

    /// <summary>max |expected − actual| ≤ rtol · max |expected|: relative to the tensor's scale, so near-zero elements do not dominate.</summary>
    public static void AssertClose(float[] expected, float[] actual, double rtol, string label)
    {
        Xunit.Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(1e-12, expected.Max(v => Math.Abs((double)v)));
        double err = expected.Zip(actual, (e, a) => Math.Abs((double)e - a)).Max();
        Xunit.Assert.True(err <= rtol * scale, $"{label}: max |diff| {err:G3} exceeds {rtol:G2} × {scale:G3}");
    }
}
