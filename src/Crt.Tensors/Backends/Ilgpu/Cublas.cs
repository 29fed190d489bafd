using System.Runtime.InteropServices;
using ILGPU.Runtime.Cuda;

namespace Crt.Tensors.Backends.Ilgpu;

/// <summary>
/// The few cuBLAS calls crt makes, bound at run time (ILGPU.Algorithms' binding looks for cuBLAS 10–12 only; CUDA 13
/// ships libcublas.so.13). One handle per CUDA device, on the accelerator's default stream, so GEMMs queue in order
/// with ILGPU's kernels. Row-major C = op(A)·op(B) is computed as column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: the operands are
/// passed in swapped order with the same transpose flags, no copy. Precision FP32, TF32 or BF16 (inputs converted first).
/// CI has no GPU: this class is exercised only by <c>crt doctor</c> on a GPU (its matmul cases against the CPU).
/// </summary>
internal sealed unsafe class Cublas
{
    private static readonly string[] Names = OperatingSystem.IsWindows()
        ? ["cublas64_13.dll", "cublas64_12.dll"] : ["libcublas.so.13", "libcublas.so.12", "libcublas.so"];

    private readonly IntPtr _handle;
    private readonly delegate* unmanaged<IntPtr, int, int, int, int, int, float*, IntPtr, int, int, long, IntPtr, int, int, long, float*, IntPtr, int, int, long, int, int, int, int> _gemm;

    public string Library { get; }

    private Cublas(string library, IntPtr lib, IntPtr stream)
    {
        Library = library;
        var create = (delegate* unmanaged<IntPtr*, int>)Export(lib, "cublasCreate_v2");
        var setStream = (delegate* unmanaged<IntPtr, IntPtr, int>)Export(lib, "cublasSetStream_v2");
        _gemm = (delegate* unmanaged<IntPtr, int, int, int, int, int, float*, IntPtr, int, int, long, IntPtr, int, int, long, float*, IntPtr, int, int, long, int, int, int, int>)
            Export(lib, "cublasGemmStridedBatchedEx");
        IntPtr handle;
        Check(create(&handle), "cublasCreate");
        Check(setStream(handle, stream), "cublasSetStream");
        _handle = handle;
    }

    /// <summary>cuBLAS on the accelerator's default stream, or null (with the reason) when the library cannot be loaded.</summary>
    public static (Cublas? Blas, string? Problem) TryCreate(CudaAccelerator accelerator)
    {
        foreach (var name in Names)
        {
            if (!NativeLibrary.TryLoad(name, out var lib)) continue;
            try { return (new Cublas(name, lib, ((CudaStream)accelerator.DefaultStream).StreamPtr), null); }
            catch (InvalidOperationException e) { return (null, e.Message); }
        }
        return (null, $"cuBLAS not found ({string.Join(", ", Names)})");
    }

    private const int OpN = 0, OpT = 1, R32F = 0, R16BF = 14, Compute32F = 68, Compute32FFastTf32 = 77, GemmDefault = -1;

    /// <summary>
    /// Row-major, batched: C_b = alpha·op(A_b)·op(B_b) + beta·C_b at device addresses (element strides between batches).
    /// Tf32: FP32 inputs through TF32 tensor cores. Bf16: A and B are bfloat16 (the caller converted them), C and the
    /// sums float32.
    /// </summary>
    public void Gemm(MatmulPrecision precision, bool transA, bool transB, int m, int n, int k, float alpha, IntPtr a, int lda, long strideA,
        IntPtr b, int ldb, long strideB, float beta, IntPtr c, int ldc, long strideC, int batch)
    {
        int compute = precision == MatmulPrecision.Tf32 ? Compute32FFastTf32 : Compute32F;
        int inputs = precision == MatmulPrecision.Bf16 ? R16BF : R32F;
        Check(_gemm(_handle, transB ? OpT : OpN, transA ? OpT : OpN, n, m, k, &alpha, b, inputs, ldb, strideB, a, inputs, lda, strideA,
            &beta, c, R32F, ldc, strideC, batch, compute, GemmDefault), "cublasGemmStridedBatchedEx");
    }

    private static IntPtr Export(IntPtr lib, string name) =>
        NativeLibrary.TryGetExport(lib, name, out var f) ? f : throw new InvalidOperationException($"the cuBLAS library has no {name}");

    private static void Check(int status, string call)
    {
        if (status != 0) throw new InvalidOperationException($"{call} failed with cuBLAS status {status}");
    }
}
