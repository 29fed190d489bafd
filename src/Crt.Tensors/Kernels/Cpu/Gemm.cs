namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Single-precision GEMM, row-major: C[m×n] = alpha·op(A)·op(B) + beta·C, where op(A) is m×k and
/// op(B) is k×n. With transA, A is stored k×m (lda ≥ m); with transB, B is stored n×k (ldb ≥ k).
/// </summary>
public static class Gemm
{
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        // Reference implementation (correct, not fast); the packed micro-kernel replaces the body.
        for (int i = 0; i < m; i++)
        {
            var crow = c.Slice(i * ldc, n);
            if (beta == 0f) crow.Clear(); else if (beta != 1f) for (int j = 0; j < n; j++) crow[j] *= beta;
            for (int p = 0; p < k; p++)
            {
                float av = alpha * (transA ? a[p * lda + i] : a[i * lda + p]);
                if (av == 0f) continue;
                if (!transB)
                {
                    var brow = b.Slice(p * ldb, n);
                    for (int j = 0; j < n; j++) crow[j] += av * brow[j];
                }
                else
                    for (int j = 0; j < n; j++) crow[j] += av * b[j * ldb + p];
            }
        }
    }
}
