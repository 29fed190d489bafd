using Crt.Data;
using Crt.Tensors.IO;

namespace Crt.Tests;

/// <summary>The image fixtures tools/parity/make_images.py writes under data/images/, and comparisons against them.</summary>
internal static class ImageFixtures
{
    public static string Dir => Path.GetDirectoryName(TestData.File("images/resize.safetensors"))!;

    /// <summary>A uint8 tensor of a fixture file as an image: [H, W] is gray, [H, W, 3] RGB.</summary>
    public static DecodedImage Load(string file, string name)
    {
        var t = SafeTensors.LoadInt32(TestData.File("images/" + file), name);
        int channels = t.Shape.Length == 2 ? 1 : t.Shape[2];
        return new DecodedImage(t.Shape[1], t.Shape[0], channels, t.Data.Select(v => (byte)v).ToArray());
    }

    /// <summary>The largest |expected − actual| over all samples; the shapes must agree.</summary>
    public static int MaxDiff(DecodedImage expected, DecodedImage actual, string label)
    {
        Xunit.Assert.True((expected.Width, expected.Height, expected.Channels) == (actual.Width, actual.Height, actual.Channels),
            $"{label}: expected {expected.Width}×{expected.Height}×{expected.Channels}, got {actual.Width}×{actual.Height}×{actual.Channels}");
        int max = 0;
        for (int i = 0; i < expected.Pixels.Length; i++) max = Math.Max(max, Math.Abs(expected.Pixels[i] - actual.Pixels[i]));
        return max;
    }
}
