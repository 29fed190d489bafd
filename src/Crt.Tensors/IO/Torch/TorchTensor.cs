namespace Crt.Tensors.IO.Torch;

/// <summary>The element types of PyTorch's storages (torch.FloatStorage, torch.HalfStorage, …).</summary>
public enum TorchDtype { Float32, Float16, BFloat16, Float64, Int64, Int32, Int16, Int8, UInt8, Bool }

/// <summary>One storage of a checkpoint: the archive entry data/&lt;Key&gt; holding <see cref="Numel"/> elements.</summary>
public sealed record TorchStorage(string Key, TorchDtype Dtype, long Numel, string Location)
{
    public static int ElementSize(TorchDtype d) => d switch
    {
        TorchDtype.Float64 or TorchDtype.Int64 => 8,
        TorchDtype.Float32 or TorchDtype.Int32 => 4,
        TorchDtype.Float16 or TorchDtype.BFloat16 or TorchDtype.Int16 => 2,
        _ => 1,
    };
}

/// <summary>
/// A tensor of a checkpoint, not yet read: a strided view (element offset, shape, strides) of a
/// storage. Its bounds were checked against the storage when the pickle was read; its data is read
/// only when asked for (<see cref="TorchCheckpoint.ReadTensor"/>), so the optimizer states and
/// discriminators a training checkpoint also holds cost nothing.
/// </summary>
public sealed record TorchTensor(TorchStorage Storage, long Offset, int[] Shape, long[] Stride)
{
    public TorchDtype Dtype => Storage.Dtype;
    public long Numel => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>True when the elements lie row-major and back to back from <see cref="Offset"/>.</summary>
    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int i = Shape.Length - 1; i >= 0; i--)
            {
                if (Shape[i] != 1 && Stride[i] != expected) return false;
                expected *= Shape[i];
            }
            return true;
        }
    }

    public override string ToString() => $"{Dtype.ToString().ToLowerInvariant()}[{string.Join(", ", Shape)}]";
}
