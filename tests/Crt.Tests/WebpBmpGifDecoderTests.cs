using Crt.Data;
using Xunit;
using Xunit.Abstractions;

namespace Crt.Tests;

/// <summary>WebP, BMP and GIF files written by Pillow, decoded as Pillow reads them (first frame, alpha dropped).</summary>
public class WebpBmpGifDecoderTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("webp", "lossless_rgb", 0)]
    [InlineData("webp", "lossless_rgba", 0)] // unpremultiplied: every pixel is translucent
    [InlineData("webp", "lossy_rgb", 0)]      // both sides run libwebp's YUV→RGB with the same fancy upsampling
    [InlineData("webp", "lossy_rgba", 0)]
    [InlineData("webp", "animated", 0)]       // the first frame
    [InlineData("bmp", "rgb24", 0)]
    [InlineData("bmp", "l8", 0)]              // 8-bit gray palette: Pillow says "L", crt gives 3 equal channels
    [InlineData("bmp", "p8", 0)]
    [InlineData("bmp", "b1", 0)]
    [InlineData("bmp", "rgba32", 0)]
    [InlineData("gif", "p", 0)]               // interlaced (Pillow interlaces GIFs of 16 rows and more)
    [InlineData("gif", "l", 0)]
    [InlineData("gif", "small", 0)]           // not interlaced
    [InlineData("gif", "animated", 0)]        // the first frame
    public void DecodesAsPilDoes(string format, string stem, int tolerance)
    {
        var expected = ImageFixtures.Load(format + "_expected.safetensors", stem);
        var actual = ImageDecoder.Decode(Path.Combine(ImageFixtures.Dir, format, $"{stem}.{format}"));
        if (actual.Channels != expected.Channels)
        {
            // Gray is only told apart for PNG and JPEG; a gray BMP or GIF comes out as R = G = B, which
            // ImageChannels turns into exactly the gray Pillow reads (the luma weights sum to 65536).
            Assert.Equal((3, 1), (actual.Channels, expected.Channels));
            actual = ImageChannels.Convert(actual, 1);
        }
        int diff = ImageFixtures.MaxDiff(expected, actual, stem);
        output.WriteLine($"{format}/{stem}: max |crt − PIL| = {diff}");
        Assert.True(diff <= tolerance, $"{format}/{stem}: max |crt − PIL| = {diff} exceeds {tolerance}");
    }

    /// <summary>
    /// A GIF's transparent pixels have no colour: Pillow's convert("RGB") shows the palette entry of the
    /// transparent index, Skia writes nothing there and crt keeps the zeroed buffer (black). Every other
    /// pixel is exact.
    /// </summary>
    [Fact]
    public void GifTransparentPixelsAreBlackAndTheRestExact()
    {
        var expected = ImageFixtures.Load("gif_expected.safetensors", "transparent");
        var mask = ImageFixtures.Load("gif_expected.safetensors", "transparent_mask");
        var actual = ImageDecoder.Decode(Path.Combine(ImageFixtures.Dir, "gif", "transparent.gif"));
        Assert.Equal((expected.Width, expected.Height, 3), (actual.Width, actual.Height, actual.Channels));
        int transparent = 0, maxOpaqueDiff = 0, maxTransparent = 0;
        for (int i = 0; i < mask.Pixels.Length; i++)
            for (int c = 0; c < 3; c++)
            {
                int a = actual.Pixels[3 * i + c];
                if (mask.Pixels[i] == 1) maxTransparent = Math.Max(maxTransparent, a);
                else maxOpaqueDiff = Math.Max(maxOpaqueDiff, Math.Abs(a - expected.Pixels[3 * i + c]));
                if (c == 0 && mask.Pixels[i] == 1) transparent++;
            }
        output.WriteLine($"gif/transparent: {transparent} of {mask.Pixels.Length} pixels transparent; opaque max |crt − PIL| = {maxOpaqueDiff}; transparent max crt = {maxTransparent}");
        Assert.InRange(transparent, 1, mask.Pixels.Length - 1);
        Assert.Equal(0, maxOpaqueDiff);
        Assert.Equal(0, maxTransparent);
    }
}
