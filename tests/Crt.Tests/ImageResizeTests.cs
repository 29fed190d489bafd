using Crt.Data;
using Xunit;
using Xunit.Abstractions;

namespace Crt.Tests;

/// <summary>Preprocessing against Pillow 9.4 (fixtures: tools/parity/make_images.py).</summary>
public class ImageResizeTests(ITestOutputHelper output)
{
    /// <summary>
    /// The required bound is Pillow's uint8 output ±1; the resampler repeats Pillow's fixed-point arithmetic
    /// step for step, so it is held to bit-exactness (measured worst difference: 0), and any drift shows.
    /// </summary>
    private const int Tolerance = 0;

    private void AssertPil(DecodedImage expected, DecodedImage actual, string label)
    {
        int diff = ImageFixtures.MaxDiff(expected, actual, label);
        output.WriteLine($"{label}: max |crt − PIL| = {diff}");
        Assert.True(diff <= Tolerance, $"{label}: max |crt − PIL| = {diff} exceeds {Tolerance}");
    }

    [Theory]
    [InlineData("bicubic_down", 16, 12, ResampleFilter.Bicubic)]  // antialiased: the kernel widens by 53/16
    [InlineData("bicubic_up", 70, 45, ResampleFilter.Bicubic)]    // overshoots at the hard edges, clipped
    [InlineData("bicubic_mixed", 80, 20, ResampleFilter.Bicubic)] // wider and shorter
    [InlineData("box_down", 16, 12, ResampleFilter.Box)]
    [InlineData("box_half", 26, 18, ResampleFilter.Box)]          // 53 → 26: a box a little over 2 wide
    [InlineData("box_up", 61, 40, ResampleFilter.Box)]
    public void ResizeMatchesPillow(string name, int width, int height, ResampleFilter filter)
    {
        foreach (var mode in new[] { "rgb", "l" })
        {
            var src = ImageFixtures.Load("resize.safetensors", $"src_{mode}");
            AssertPil(ImageFixtures.Load("resize.safetensors", $"{name}_{mode}"), ImageResize.Resize(src, width, height, filter), $"{name}_{mode}");
        }
    }

    [Theory]
    [InlineData("adm16_rgb", 16, 3)]  // two box halvings, then bicubic down
    [InlineData("adm40_rgb", 40, 3)]  // one halving
    [InlineData("adm64_l", 64, 1)]    // no halving; gray through convert("L") first
    public void CenterCropMatchesGuidedDiffusion(string name, int size, int channels)
    {
        var src = ImageChannels.Convert(ImageFixtures.Load("resize.safetensors", "big_rgb"), channels);
        AssertPil(ImageFixtures.Load("resize.safetensors", name), ImagePreprocess.CenterCrop(src, size), name);
    }

    [Fact]
    public void CenterCropEnlargesSmallImages()
    {
        var big = ImageFixtures.Load("resize.safetensors", "big_rgb");
        var src = ImagePreprocess.Crop(big, 0, 0, 150, 90); // shorter side 90 < 100: bicubic up to 167×100, centre cut
        AssertPil(ImageFixtures.Load("resize.safetensors", "adm200_rgb"), ImagePreprocess.CenterCrop(src, 100), "adm200_rgb");
    }

    [Fact]
    public void GrayConversionIsPillowsLuma()
    {
        var rgb = ImageFixtures.Load("resize.safetensors", "src_rgb");
        Assert.Equal(ImageFixtures.Load("resize.safetensors", "rgb_to_l").Pixels, ImageChannels.Convert(rgb, 1).Pixels);
        var gray = new DecodedImage(2, 1, 1, new byte[] { 7, 200 });
        Assert.Equal(new byte[] { 7, 7, 7, 200, 200, 200 }, ImageChannels.Convert(gray, 3).Pixels);
    }

    [Fact]
    public void ApplyGivesChannelPlanesOfTheRequestedSquare()
    {
        // A 4×2 RGB image, left half red-ish, right half blue-ish: "area" squeezes it to 2×2, channels become planes.
        var px = new byte[4 * 2 * 3];
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 4; x++)
            {
                int o = (y * 4 + x) * 3;
                (px[o], px[o + 1], px[o + 2]) = x < 2 ? ((byte)200, (byte)10, (byte)20) : ((byte)30, (byte)40, (byte)250);
            }
        var planes = ImagePreprocess.Apply(new DecodedImage(4, 2, 3, px), new ImageOptions(2, 3, ResizeMode.Area));
        Assert.Equal(new byte[] { 200, 30, 200, 30, 10, 40, 10, 40, 20, 250, 20, 250 }, planes);
        // "center-crop" keeps the aspect ratio: the 2×2 centre of the 4×2 image straddles both halves.
        var crop = ImagePreprocess.Apply(new DecodedImage(4, 2, 3, px), new ImageOptions(2, 1, ResizeMode.CenterCrop));
        Assert.Equal(new[] { Luma(200, 10, 20), Luma(30, 40, 250), Luma(200, 10, 20), Luma(30, 40, 250) }, crop);
    }

    private static byte Luma(int r, int g, int b) => (byte)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);

    [Fact]
    public void ResizeModesParseByNameAndUnknownOnesListTheValidOnes()
    {
        Assert.Equal(ResizeMode.CenterCrop, ImagePreprocess.ParseMode("center-crop"));
        Assert.Equal(ResizeMode.Area, ImagePreprocess.ParseMode("area"));
        Assert.Equal(ResizeMode.Bicubic, ImagePreprocess.ParseMode("bicubic"));
        Assert.Equal("resize 'lanczos' is not a resize mode; valid modes: center-crop, area, bicubic",
            Assert.Throws<ArgumentException>(() => ImagePreprocess.ParseMode("lanczos")).Message);
    }
}
