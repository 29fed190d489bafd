using Crt.Tensors;

namespace Crt.Data;

/// <summary>
/// Images in ADM-style .npz files (guided-diffusion's evaluator, LlamaGen's sample_c2i_ddp.py): uint8 pixels
/// [N, H, W, 3] under arr_0. crt writes its samples so and reads such files as either side of FID, IS and P&amp;R.
/// </summary>
public static class NpzImages
{
    /// <summary>
    /// Writes images [N, C, H, W] in [−1, 1] as uint8 NHWC RGB under arr_0 (gray repeated to three channels: the
    /// ADM evaluator's InceptionV3 takes RGB), rounded as crt's PNGs are.
    /// </summary>
    public static void Write(string path, Tensor images)
    {
        if (images.Rank != 4 || images.Shape[1] is not (1 or 3))
            throw new ArgumentException($"{path}: images must be [N, 1 or 3, H, W], got {ShapeUtil.Format(images.Shape)}");
        int n = images.Shape[0], c = images.Shape[1], h = images.Shape[2], w = images.Shape[3];
        var src = images.ReadOnlySpan;
        var pixels = new byte[(long)n * h * w * 3];
        for (int i = 0; i < n; i++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int ch = 0; ch < 3; ch++)
                        pixels[(((long)i * h + y) * w + x) * 3 + ch] = ImageGrid.ToByte(src[((i * c + (c == 1 ? 0 : ch)) * h + y) * w + x]);
        NpzFile.WriteUInt8(path, "arr_0", pixels, n, h, w, 3);
    }

    /// <summary>
    /// arr_0 of an .npz of images, [N, H, W, C] (C 1 or 3) or [N, H, W], as [N, channels, H, W] in [−1, 1] (pixel/127.5 − 1,
    /// as datasets are read). RGB becomes gray by Pillow's convert("L") when <paramref name="channels"/> is 1; gray is
    /// repeated when it is 3.
    /// </summary>
    public static Tensor Read(string path, int channels)
    {
        var a = NpzFile.ReadUInt8(path);
        int c = a.Shape.Length == 3 ? 1 : a.Shape.Length == 4 ? a.Shape[3] : -1;
        if (c is not (1 or 3))
            throw new InvalidDataException($"{path}: arr_0 has shape ({string.Join(", ", a.Shape)}); images are [N, H, W, 3], [N, H, W, 1] or [N, H, W]");
        int n = a.Shape[0], h = a.Shape[1], w = a.Shape[2];
        if (n == 0) throw new InvalidDataException($"{path}: arr_0 holds no images");
        var t = Tensor.Empty(n, channels, h, w);
        var dst = t.Span;
        for (int i = 0; i < n; i++)
        {
            var image = ImageChannels.Convert(new DecodedImage(w, h, c, a.Values.AsSpan((int)((long)i * h * w * c), h * w * c).ToArray()), channels);
            for (int ch = 0; ch < channels; ch++)
                for (int p = 0; p < h * w; p++)
                    dst[(i * channels + ch) * h * w + p] = image.Pixels[p * channels + ch] / 127.5f - 1f;
        }
        return t;
    }
}
