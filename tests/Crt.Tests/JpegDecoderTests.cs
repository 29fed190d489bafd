using Crt.Data;
using Xunit;
using Xunit.Abstractions;

namespace Crt.Tests;

public class JpegDecoderTests(ITestOutputHelper output)
{
    /// <summary>
    /// libturbojpeg and PIL's libjpeg (Debian's libjpeg62-turbo) run the same accurate IDCT and fancy
    /// upsampling; ±1 allows for a different libjpeg build under PIL. Measured here: 0.
    /// </summary>
    private const int Tolerance = 1;

    [Theory]
    [InlineData("gray", 1)]
    [InlineData("rgb", 3)]             // 4:2:0 chroma, odd size
    [InlineData("rgb_progressive", 3)] // progressive, 4:4:4
    public void DecodesAsPilDoes(string stem, int channels)
    {
        var expected = ImageFixtures.Load("jpeg_expected.safetensors", stem);
        var actual = JpegDecoder.Decode(Path.Combine(ImageFixtures.Dir, "jpeg", stem + ".jpg"));
        Assert.Equal(channels, actual.Channels);
        int diff = ImageFixtures.MaxDiff(expected, actual, stem);
        output.WriteLine($"{stem}: max |crt − PIL| = {diff}");
        Assert.True(diff <= Tolerance, $"{stem}: max |crt − PIL| = {diff} exceeds {Tolerance}");
    }

    [Fact]
    public void TruncatedAndCorruptFilesNameTheFile()
    {
        var good = File.ReadAllBytes(Path.Combine(ImageFixtures.Dir, "jpeg", "rgb.jpg"));
        // Cut inside the entropy-coded data: libjpeg would fill the rest with gray and warn; that is an error here.
        var cut = Assert.Throws<InvalidDataException>(() => JpegDecoder.Decode(good[..(good.Length * 3 / 4)], "x/cut.jpg")).Message;
        output.WriteLine(cut);
        Assert.StartsWith("x/cut.jpg: JPEG: ", cut);
        Assert.Single(cut.Split('\n'));

        var header = good[..4].Concat(new byte[40]).ToArray();
        var junk = Assert.Throws<InvalidDataException>(() => JpegDecoder.Decode(header, "x/junk.jpg")).Message;
        output.WriteLine(junk);
        Assert.StartsWith("x/junk.jpg: JPEG: ", junk);
        Assert.Equal("x/no.jpg: JPEG: the JPEG start-of-image marker (FF D8 FF) is missing",
            Assert.Throws<InvalidDataException>(() => JpegDecoder.Decode(good[1..], "x/no.jpg")).Message);
    }

    [Fact]
    public void FilesAreRecognisedByTheirBytesNotTheirNames()
    {
        var dir = Directory.CreateTempSubdirectory("crt-sniff").FullName;
        try
        {
            var pngAsJpg = Path.Combine(dir, "really-a-png.jpg");
            File.Copy(Path.Combine(ImageFixtures.Dir, "png", "rgb8.png"), pngAsJpg);
            Assert.Equal(3, ImageFile.Read(pngAsJpg).Channels);
            var jpgAsPng = Path.Combine(dir, "really-a-jpeg.png");
            File.Copy(Path.Combine(ImageFixtures.Dir, "jpeg", "gray.jpg"), jpgAsPng);
            Assert.Equal(1, ImageFile.Read(jpgAsPng).Channels);
            var text = Path.Combine(dir, "text.png");
            File.WriteAllText(text, "hello");
            Assert.Equal($"{text}: neither a PNG nor a JPEG file (its first bytes match neither)",
                Assert.Throws<InvalidDataException>(() => ImageFile.Read(text)).Message);
            var empty = Path.Combine(dir, "empty.jpg");
            File.WriteAllBytes(empty, Array.Empty<byte>());
            Assert.Equal($"{empty}: the file is empty", Assert.Throws<InvalidDataException>(() => ImageFile.Read(empty)).Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}
