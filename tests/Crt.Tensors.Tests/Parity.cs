using Crt.Tensors;
using Crt.Tensors.IO;
using Xunit;

namespace Crt.Tensors.Tests;

/// <summary>
/// PyTorch parity fixtures: safetensors files under tests/Crt.Tensors.Tests/data/parity, written by
/// the scripts in tools/parity/ with Debian's python3-torch and committed, so CI needs no PyTorch.
/// </summary>
public static class Parity
{
    public static Dictionary<string, Tensor> Load(string family) =>
        SafeTensors.Load(SafeTensorsTests.DataFile(Path.Combine("parity", family + ".safetensors")));

    /// <summary>
    /// max |expected − actual| ≤ rtol · max(max |expected|, 1e-6): a relative error taken against the
    /// tensor's scale, so elements near zero do not dominate it.
    /// </summary>
    public static void AssertClose(Tensor expected, Tensor actual, double rtol = 1e-5, string? label = null)
    {
        Assert.True(ShapeUtil.SameShape(expected.Shape, actual.Shape),
            $"{label}: shape {ShapeUtil.Format(actual.Shape)}, PyTorch has {ShapeUtil.Format(expected.Shape)}");
        var e = expected.ReadOnlySpan; var a = actual.ReadOnlySpan;
        double maxErr = 0, scale = 1e-6;
        int worst = 0;
        for (int i = 0; i < e.Length; i++)
        {
            double err = Math.Abs((double)e[i] - a[i]);
            if (err > maxErr) { maxErr = err; worst = i; }
            scale = Math.Max(scale, Math.Abs(e[i]));
        }
        Assert.True(maxErr <= rtol * scale,
            $"{label}: max |diff| {maxErr:G3} at element {worst} (PyTorch {e[worst]:G7}, crt {a[worst]:G7}) exceeds {rtol:G2} × scale {scale:G3}");
    }
}
