using Crt.Data;
using Crt.Tensors;
using Xunit;

namespace Crt.Tests;

/// <summary>.npz files as NumPy writes them (fixtures by tools/parity/make_npz.py) and as crt writes them for ADM's evaluator.</summary>
public class NpzTests
{
    private static byte[] Expected() => NpzFile.ParseNpy(File.ReadAllBytes(TestData.File("npz/rgb_expected.npy")), "rgb_expected.npy").Values;

    [Theory]
    [InlineData("rgb_savez.npz")]       // np.savez, stored entries, a second array beside arr_0
    [InlineData("rgb_compressed.npz")]  // np.savez_compressed, deflated
    [InlineData("rgb_v2.npz")]          // .npy format 2.0 (4-byte header length)
    public void ReadsNumPysFilesExactly(string name)
    {
        var a = NpzFile.ReadUInt8(TestData.File("npz/" + name));
        Assert.Equal(new[] { 3, 4, 5, 3 }, a.Shape);
        Assert.Equal(Expected(), a.Values);
    }

    [Fact]
    public void ImagesComeBackAsChannelPlanesInMinusOneOne()
    {
        var rgb = Expected(); // [3, 4, 5, 3] NHWC
        var t = NpzImages.Read(TestData.File("npz/rgb_savez.npz"), 3);
        Assert.Equal(new[] { 3, 3, 4, 5 }, t.Shape);
        Assert.Equal(rgb[((2 * 4 + 1) * 5 + 3) * 3 + 2] / 127.5f - 1f, t[2, 2, 1, 3]);
        // gray by Pillow's convert("L") luma
        var g = NpzImages.Read(TestData.File("npz/rgb_savez.npz"), 1);
        int i = ((1 * 4 + 2) * 5 + 4) * 3;
        byte luma = (byte)((rgb[i] * 19595 + rgb[i + 1] * 38470 + rgb[i + 2] * 7471 + 0x8000) >> 16);
        Assert.Equal(luma / 127.5f - 1f, g[1, 0, 2, 4]);
        var nhw = NpzImages.Read(TestData.File("npz/gray_nhw.npz"), 3); // [N, H, W] gray, repeated to RGB
        Assert.Equal(new[] { 2, 3, 6, 6 }, nhw.Shape);
        Assert.Equal(nhw[1, 0, 5, 2], nhw[1, 2, 5, 2]);
    }

    [Fact]
    public void WritesAdmSampleFilesThatReadBack()
    {
        var dir = Directory.CreateTempSubdirectory("crt-npz");
        try
        {
            var rng = new Rng(3);
            var gray = Ops.Clamp(rng.Normal(new[] { 2, 1, 6, 7 }), -1f, 1f);
            var path = Path.Combine(dir.FullName, "samples.npz");
            NpzImages.Write(path, gray);
            var a = NpzFile.ReadUInt8(path);
            Assert.Equal(new[] { 2, 6, 7, 3 }, a.Shape); // NHWC, gray repeated to RGB for the ADM evaluator
            Assert.Equal(ImageGrid.ToByte(gray[1, 0, 4, 5]), a.Values[((1 * 6 + 4) * 7 + 5) * 3 + 1]);
            var back = NpzImages.Read(path, 1);
            for (int k = 0; k < gray.Size; k++)
                Assert.Equal(ImageGrid.ToByte(gray.ReadOnlySpan[k]) / 127.5f - 1f, back.ReadOnlySpan[k]);
            // the data starts at a multiple of 64 bytes, as NumPy aligns it
            using var zip = System.IO.Compression.ZipFile.OpenRead(path);
            using var s = zip.GetEntry("arr_0.npy")!.Open();
            var head = new byte[10];
            s.ReadExactly(head);
            Assert.Equal(0, (10 + (head[8] | head[9] << 8)) % 64);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void RefusesWhatItCannotReadWithTheFileAndReason()
    {
        string F(string n) => TestData.File("npz/" + n);
        Assert.Contains("element type '<f4'", Assert.Throws<InvalidDataException>(() => NpzFile.ReadUInt8(F("float_images.npz"))).Message);
        Assert.Contains("Fortran-order", Assert.Throws<InvalidDataException>(() => NpzFile.ReadUInt8(F("fortran.npz"))).Message);
        Assert.Contains("no array 'samples'", Assert.Throws<InvalidDataException>(() => NpzFile.ReadUInt8(F("rgb_savez.npz"), "samples")).Message);

        var dir = Directory.CreateTempSubdirectory("crt-npz");
        try
        {
            var corrupt = Path.Combine(dir.FullName, "corrupt.npz");
            File.WriteAllBytes(corrupt, File.ReadAllBytes(F("rgb_compressed.npz")).AsSpan(0, 200).ToArray());
            Assert.StartsWith($"{corrupt}:", Assert.Throws<InvalidDataException>(() => NpzFile.ReadUInt8(corrupt)).Message);

            var npy = File.ReadAllBytes(F("rgb_expected.npy"));
            var e = Assert.Throws<InvalidDataException>(() => NpzFile.ParseNpy(npy.AsSpan(0, npy.Length - 7).ToArray(), "cut.npy"));
            Assert.Equal("cut.npy: shape (3, 4, 5, 3) needs 180 bytes of data, the array has 173", e.Message);
            var huge = (byte[])npy.Clone(); // a shape far beyond the bytes present is refused before any allocation
            var text = System.Text.Encoding.ASCII.GetString(huge);
            int at = text.IndexOf("(3, 4", StringComparison.Ordinal);
            "(9, 9"u8.CopyTo(huge.AsSpan(at));
            Assert.Contains("needs", Assert.Throws<InvalidDataException>(() => NpzFile.ParseNpy(huge, "huge.npy")).Message);
            Assert.Contains("not found", Assert.Throws<FileNotFoundException>(() => NpzFile.ReadUInt8(Path.Combine(dir.FullName, "none.npz"))).Message);
        }
        finally { dir.Delete(true); }
    }
}
