using Crt.Tensors;

namespace Crt.Data;

/// <summary>
/// Images held as 8-bit pixels (NCHW) with class labels. Conversion to model input ([−1, 1] floats,
/// optional zero-padding) happens per batch, so a whole dataset costs one byte per pixel in memory.
/// </summary>
public sealed class ImageSet
{
    public string Name { get; }
    public int Count { get; }
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public byte[] Pixels { get; }
    public int[] Labels { get; }
    public string[] ClassNames { get; }

    public int NumClasses => ClassNames.Length;

    public ImageSet(string name, int channels, int height, int width, byte[] pixels, int[] labels, string[] classNames)
    {
        int per = channels * height * width;
        if (per == 0 || pixels.Length % per != 0)
            throw new ArgumentException($"{name}: {pixels.Length} pixel bytes are not a whole number of {channels}×{height}×{width} images");
        Count = pixels.Length / per;
        if (labels.Length != Count) throw new ArgumentException($"{name}: {Count} images but {labels.Length} labels");
        foreach (var l in labels)
            if ((uint)l >= (uint)classNames.Length)
                throw new ArgumentException($"{name}: label {l} is outside the {classNames.Length} classes");
        (Name, Channels, Height, Width, Pixels, Labels, ClassNames) = (name, channels, height, width, pixels, labels, classNames);
    }

    /// <summary>Images [start, start+count) as a new set sharing nothing with this one.</summary>
    public ImageSet Range(string name, int start, int count)
    {
        if (start < 0 || count < 0 || start + count > Count)
            throw new ArgumentOutOfRangeException(nameof(start), $"{Name}: range [{start}, {start + count}) is outside its {Count} images");
        int per = Channels * Height * Width;
        return new ImageSet(name, Channels, Height, Width, Pixels.AsSpan(start * per, count * per).ToArray(),
            Labels.AsSpan(start, count).ToArray(), ClassNames);
    }

    /// <summary>
    /// The images at <paramref name="indices"/> as a [B, C, H+2·pad, W+2·pad] tensor in [−1, 1]
    /// (pixel/127.5 − 1); padding is black (−1), as torchvision's Pad(fill=0) gives after normalising.
    /// </summary>
    public Tensor Batch(ReadOnlySpan<int> indices, int pad = 0)
    {
        int h = Height + 2 * pad, w = Width + 2 * pad, per = Channels * Height * Width;
        var t = Tensor.Full(-1f, indices.Length, Channels, h, w);
        var dst = t.Span;
        for (int b = 0; b < indices.Length; b++)
        {
            int i = indices[b];
            if ((uint)i >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), $"{Name}: image index {i} is outside its {Count} images");
            var src = Pixels.AsSpan(i * per, per);
            for (int c = 0; c < Channels; c++)
                for (int y = 0; y < Height; y++)
                {
                    var row = src.Slice((c * Height + y) * Width, Width);
                    var o = dst.Slice(((b * Channels + c) * h + y + pad) * w + pad, Width);
                    for (int x = 0; x < Width; x++) o[x] = row[x] / 127.5f - 1f;
                }
        }
        return t;
    }
}
