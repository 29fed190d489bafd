using Crt.Data;
using Xunit;
using Xunit.Abstractions;

namespace Crt.Tests;

public class JpegDecoderTests(ITestOutputHelper output)
{
    /// <summary>
    /// Skia's bundled libjpeg-turbo and Pillow's (Debian's libjpeg62-turbo) run the same accurate integer
    /// IDCT and smooth chroma upsampling; ±1 allows for a different libjpeg build. Measured: see the README.
    /// </summary>
    private const int Tolerance = 1;

    [Theory]
    [InlineData("gray", 1)]
    [InlineData("rgb", 3)]             // 4:2:0 chroma, odd size
    [InlineData("rgb_progressive", 3)] // progressive, 4:4:4
    [InlineData("rgb422_exif", 3)]     // 4:2:2, odd size, EXIF orientation 6 (not applied: the size stays 43×29)
    [InlineData("cmyk", 3)]            // Adobe-inverted CMYK, as Pillow's convert("RGB") turns it into RGB
    public void DecodesAsPilDoes(string stem, int channels)
    {
        var expected = ImageFixtures.Load("jpeg_expected.safetensors", stem);
        var actual = ImageDecoder.Decode(Path.Combine(ImageFixtures.Dir, "jpeg", stem + ".jpg"));
        Assert.Equal(channels, actual.Channels);
        int diff = ImageFixtures.MaxDiff(expected, actual, stem);
        output.WriteLine($"{stem}: max |crt − PIL| = {diff}");
        Assert.True(diff <= Tolerance, $"{stem}: max |crt − PIL| = {diff} exceeds {Tolerance}");
    }

    [Fact]
    public void TruncatedAndCorruptFilesNameTheFile()
    {
        var good = File.ReadAllBytes(Path.Combine(ImageFixtures.Dir, "jpeg", "rgb.jpg"));
        // Cut inside the entropy-coded data: libjpeg would fill the rest with gray; that is an error here.
        var cut = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(good[..(good.Length * 3 / 4)], "x/cut.jpg")).Message;
        output.WriteLine(cut);
        Assert.Equal("x/cut.jpg: JPEG: truncated or corrupt: the image data stops before the last row", cut);
        Assert.Single(cut.Split('\n'));

        var header = good[..4].Concat(new byte[40]).ToArray();
        var junk = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(header, "x/junk.jpg")).Message;
        output.WriteLine(junk);
        Assert.Equal("x/junk.jpg: JPEG: truncated or corrupt: the header cannot be read", junk); // no frame header after the first marker
        Assert.Equal("x/no.jpg: not a PNG, JPEG, WebP, BMP or GIF file (its first bytes match none of them)",
            Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(good[1..], "x/no.jpg")).Message);
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
            var gifAsWebp = Path.Combine(dir, "really-a-gif.webp");
            File.Copy(Path.Combine(ImageFixtures.Dir, "gif", "small.gif"), gifAsWebp);
            Assert.Equal((9, 13), (ImageFile.Read(gifAsWebp).Width, ImageFile.Read(gifAsWebp).Height));
            var text = Path.Combine(dir, "text.png");
            File.WriteAllText(text, "hello");
            Assert.Equal($"{text}: not a PNG, JPEG, WebP, BMP or GIF file (its first bytes match none of them)",
                Assert.Throws<InvalidDataException>(() => ImageFile.Read(text)).Message);
            var empty = Path.Combine(dir, "empty.jpg");
            File.WriteAllBytes(empty, Array.Empty<byte>());
            Assert.Equal($"{empty}: the file is empty", Assert.Throws<InvalidDataException>(() => ImageFile.Read(empty)).Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}
