using System.Diagnostics;
using Crt.Tensors.IO;
using Xunit;

namespace Crt.Tensors.Tests;

public class TempFilesTests
{
    [Fact]
    public void OnlyCrtsOwnTemporaryNamesAreRecognised()
    {
        string name = TempFiles.NameFor("/x/model.safetensors");
        Assert.Equal(Environment.ProcessId, TempFiles.WriterOf(name));
        Assert.Null(TempFiles.WriterOf("/x/model.safetensors"));
        Assert.Null(TempFiles.WriterOf("/x/notes.tmp-keep"));
        Assert.Null(TempFiles.WriterOf("/x/a.tmp-12-short"));
        Assert.Null(TempFiles.WriterOf($"/x/a.tmp--5-{Guid.NewGuid():N}"));
    }

    [Fact]
    public void StaleTemporaryFilesOfAPathGoAndLiveOnesStay()
    {
        var dir = Directory.CreateTempSubdirectory("crt-temp").FullName;
        try
        {
            using var gone = Process.Start("true")!;
            gone.WaitForExit();
            string target = Path.Combine(dir, "train.tokens");
            string stale = $"{target}.tmp-{gone.Id}-{Guid.NewGuid():N}", live = TempFiles.NameFor(target);
            string otherFile = Path.Combine(dir, $"val.tokens.tmp-{gone.Id}-{Guid.NewGuid():N}");
            foreach (var f in new[] { stale, live, otherFile }) File.WriteAllText(f, "x");

            TempFiles.RemoveStaleOf(target);
            Assert.False(File.Exists(stale));
            Assert.True(File.Exists(live));
            Assert.True(File.Exists(otherFile)); // another path's: left to its own writer

            Assert.Equal(1, TempFiles.RemoveStale(dir));
            Assert.False(File.Exists(otherFile));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
