using Crt.Tensors;
using Xunit;

namespace Crt.Tensors.Tests;

public class AlignedStorageTests
{
    private static unsafe long Misalignment(Tensor t)
    {
        fixed (float* p = t.Span) return (nint)p & 63;
    }

    [Fact]
    public void LargeTensorsStartOnACacheLine()
    {
        int[] shape = { 3, AlignedStorage.MinAlignedSize / 3 + 1 };
        for (int i = 0; i < 20; i++)
        {
            var fresh = Tensor.Zeros(shape);
            Assert.Equal(0, Misalignment(fresh));
            Assert.All(fresh.ToArray(), v => Assert.Equal(0f, v)); // zeroed outside a scope, as before
            Assert.Equal(0, Misalignment(fresh.Reshape(-1))); // a view shares the offset
            GC.KeepAlive(new float[i * 7 + 1]); // shift where the next array lands
        }
        Tensor kept;
        float[] buffer;
        using (TensorScope.Begin())
        {
            var pooled = Tensor.Empty(shape);
            Assert.Equal(0, Misalignment(pooled));
            buffer = pooled.Storage;
            kept = Tensor.Full(5f, shape).Keep();
        }
        Assert.Equal(0, Misalignment(kept));
        Assert.All(kept.ToArray(), v => Assert.Equal(5f, v));
        using (TensorScope.Begin())
        {
            var again = Tensor.Zeros(shape); // the returned buffer, found again under the element count
            Assert.Same(buffer, again.Storage);
            Assert.Equal(0, Misalignment(again));
            Assert.Equal(shape[0] * shape[1], again.Span.Length);
            Assert.All(again.ToArray(), v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void SmallTensorsAndWrappedArraysKeepOffsetZero()
    {
        var small = Tensor.Zeros(AlignedStorage.MinAlignedSize - 1);
        Assert.Equal(0, small.StorageOffset);
        Assert.Equal(AlignedStorage.MinAlignedSize - 1, small.Storage.Length);
        var data = new float[AlignedStorage.MinAlignedSize * 2];
        var wrapped = Tensor.FromArray(data, data.Length); // no copy: the caller's array, as it lies
        Assert.Same(data, wrapped.Storage);
        Assert.Equal(0, wrapped.StorageOffset);
    }
}
