using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Crt.Tensors.IO;

/// <summary>Little-endian safetensors element bytes → float32.</summary>
internal static class FloatConvert
{
    /// <summary>Largest magnitude below which every integer is exact in float32.</summary>
    private const long ExactLimit = 1L << 24;

    /// <summary>Converts; false (with the offending value) when an integer would not be exact in float32.</summary>
    public static bool ToSingle(ReadOnlySpan<byte> src, SafeTensorsDtype dtype, Span<float> dst, out long bad)
    {
        bad = 0;
        switch (dtype)
        {
            case SafeTensorsDtype.F32:
                MemoryMarshal.Cast<byte, float>(src).CopyTo(dst);
                return true;
            case SafeTensorsDtype.F64:
            {
                var s = MemoryMarshal.Cast<byte, double>(src);
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)s[i];
                return true;
            }
            case SafeTensorsDtype.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(src), dst);
                return true;
            case SafeTensorsDtype.BF16:
            {
                // bf16 is the top half of a float32.
                var s = MemoryMarshal.Cast<byte, ushort>(src);
                var d = MemoryMarshal.Cast<float, uint>(dst);
                for (int i = 0; i < d.Length; i++) d[i] = (uint)s[i] << 16;
                return true;
            }
            case SafeTensorsDtype.U8 or SafeTensorsDtype.BOOL:
                for (int i = 0; i < dst.Length; i++) dst[i] = src[i];
                return true;
            case SafeTensorsDtype.I8:
                for (int i = 0; i < dst.Length; i++) dst[i] = (sbyte)src[i];
                return true;
            case SafeTensorsDtype.I16:
            {
                var s = MemoryMarshal.Cast<byte, short>(src);
                for (int i = 0; i < dst.Length; i++) dst[i] = s[i];
                return true;
            }
            case SafeTensorsDtype.U16:
            {
                var s = MemoryMarshal.Cast<byte, ushort>(src);
                for (int i = 0; i < dst.Length; i++) dst[i] = s[i];
                return true;
            }
            case SafeTensorsDtype.I32:
            {
                var s = MemoryMarshal.Cast<byte, int>(src);
                for (int i = 0; i < dst.Length; i++)
                {
                    if (Math.Abs((long)s[i]) > ExactLimit) { bad = s[i]; return false; }
                    dst[i] = s[i];
                }
                return true;
            }
            case SafeTensorsDtype.U32:
            {
                var s = MemoryMarshal.Cast<byte, uint>(src);
                for (int i = 0; i < dst.Length; i++)
                {
                    if (s[i] > ExactLimit) { bad = s[i]; return false; }
                    dst[i] = s[i];
                }
                return true;
            }
            case SafeTensorsDtype.I64:
            {
                var s = MemoryMarshal.Cast<byte, long>(src);
                for (int i = 0; i < dst.Length; i++)
                {
                    if (s[i] > ExactLimit || s[i] < -ExactLimit) { bad = s[i]; return false; }
                    dst[i] = s[i];
                }
                return true;
            }
            case SafeTensorsDtype.U64:
            {
                var s = MemoryMarshal.Cast<byte, ulong>(src);
                for (int i = 0; i < dst.Length; i++)
                {
                    if (s[i] > ExactLimit) { bad = (long)Math.Min(s[i], long.MaxValue); return false; }
                    dst[i] = s[i];
                }
                return true;
            }
            default:
                throw new NotSupportedException($"dtype {dtype}");
        }
    }
}

/// <summary>Little-endian safetensors integer bytes → int64 / int32.</summary>
internal static class IntConvert
{
    public static void ToInt64(ReadOnlySpan<byte> src, SafeTensorsDtype dtype, Span<long> dst)
    {
        switch (dtype)
        {
            case SafeTensorsDtype.I64: MemoryMarshal.Cast<byte, long>(src).CopyTo(dst); break;
            case SafeTensorsDtype.U64:
            {
                var s = MemoryMarshal.Cast<byte, ulong>(src);
                for (int i = 0; i < dst.Length; i++)
                    dst[i] = s[i] <= long.MaxValue ? (long)s[i] : throw new OverflowException($"U64 value {s[i]} exceeds the int64 range");
                break;
            }
            case SafeTensorsDtype.I32: { var s = MemoryMarshal.Cast<byte, int>(src); for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; break; }
            case SafeTensorsDtype.U32: { var s = MemoryMarshal.Cast<byte, uint>(src); for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; break; }
            case SafeTensorsDtype.I16: { var s = MemoryMarshal.Cast<byte, short>(src); for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; break; }
            case SafeTensorsDtype.U16: { var s = MemoryMarshal.Cast<byte, ushort>(src); for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; break; }
            case SafeTensorsDtype.I8: for (int i = 0; i < dst.Length; i++) dst[i] = (sbyte)src[i]; break;
            case SafeTensorsDtype.U8 or SafeTensorsDtype.BOOL: for (int i = 0; i < dst.Length; i++) dst[i] = src[i]; break;
            default: throw new NotSupportedException($"{dtype} is not an integer dtype");
        }
    }

    /// <summary>Converts; false (with the offending value) when a value is outside the int32 range.</summary>
    public static bool ToInt32(ReadOnlySpan<byte> src, SafeTensorsDtype dtype, Span<int> dst, out long bad)
    {
        bad = 0;
        switch (dtype)
        {
            case SafeTensorsDtype.I32: MemoryMarshal.Cast<byte, int>(src).CopyTo(dst); return true;
            case SafeTensorsDtype.I64:
            {
                var s = MemoryMarshal.Cast<byte, long>(src);
                for (int i = 0; i < dst.Length; i++)
                {
                    if (s[i] < int.MinValue || s[i] > int.MaxValue) { bad = s[i]; return false; }
                    dst[i] = (int)s[i];
                }
                return true;
            }
            case SafeTensorsDtype.U64:
            {
                var s = MemoryMarshal.Cast<byte, ulong>(src);
                for (int i = 0; i < dst.Length; i++)
                {
                    if (s[i] > int.MaxValue) { bad = (long)Math.Min(s[i], long.MaxValue); return false; }
                    dst[i] = (int)s[i];
                }
                return true;
            }
            case SafeTensorsDtype.U32:
            {
                var s = MemoryMarshal.Cast<byte, uint>(src);
                for (int i = 0; i < dst.Length; i++)
                {
                    if (s[i] > int.MaxValue) { bad = s[i]; return false; }
                    dst[i] = (int)s[i];
                }
                return true;
            }
            case SafeTensorsDtype.I16: { var s = MemoryMarshal.Cast<byte, short>(src); for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; return true; }
            case SafeTensorsDtype.U16: { var s = MemoryMarshal.Cast<byte, ushort>(src); for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; return true; }
            case SafeTensorsDtype.I8: for (int i = 0; i < dst.Length; i++) dst[i] = (sbyte)src[i]; return true;
            case SafeTensorsDtype.U8 or SafeTensorsDtype.BOOL: for (int i = 0; i < dst.Length; i++) dst[i] = src[i]; return true;
            default: throw new NotSupportedException($"{dtype} is not an integer dtype");
        }
    }
}
