using Crt.Data;
using Xunit;

namespace Crt.Tests;

public class TokenStoreTests
{
    private static TokenStoreHeader Header(int k, int count = 3, int variants = 2) => new()
    {
        TokenizerSha256 = "ab12", GridHeight = 2, GridWidth = 3, CodebookSize = k, NumClasses = 10,
        Count = count, Variants = variants,
    };

    [Theory]
    [InlineData(512, 2)]
    [InlineData(65536, 2)]
    [InlineData(131072, 4)]
    public void RoundTripsCodesLabelsAndHeader(int k, int bytesPerCode)
    {
        var path = Path.GetTempFileName();
        try
        {
            var h = Header(k);
            var codes = Enumerable.Range(0, 3 * 2 * 6).Select(i => (i * 7919) % k).ToArray();
            codes[5] = k - 1;
            TokenStore.Write(path, h, codes, new[] { 4, 0, 9 });
            var s = TokenStore.Read(path);
            Assert.Equal(bytesPerCode, s.Header.BytesPerCode);
            Assert.Equal(new[] { 4, 0, 9 }, s.Labels);
            Assert.Equal("ab12", s.Header.TokenizerSha256);
            var dst = new int[6];
            s.GetCodes(0, 0, dst);
            Assert.Equal(codes[..6], dst);
            s.GetCodes(2, 1, dst);
            Assert.Equal(codes[30..36], dst);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TruncatedStoreNamesFileAndSizes()
    {
        var path = Path.GetTempFileName();
        try
        {
            TokenStore.Write(path, Header(512), new int[36], new int[3]);
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^10]);
            var ex = Assert.Throws<InvalidDataException>(() => TokenStore.Read(path));
            Assert.StartsWith($"{path}: truncated: 3 images × 2 variants × 6 tokens need", ex.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void WriteRejectsOutOfRangeCodes()
    {
        var ex = Assert.Throws<ArgumentException>(() => TokenStore.Write("x.tok", Header(512, 1, 1), new[] { 0, 1, 2, 512, 0, 0 }, new[] { 0 }));
        Assert.Contains("code 512 at position 3 is outside the codebook of 512", ex.Message);
        Assert.False(File.Exists("x.tok"));
    }
}
