using ILGPU;
using ILGPU.Algorithms;

namespace Crt.Tensors.Backends.Ilgpu;

/// <summary>Shape of one (batched) GEMM launch: C = alpha·op(A)·op(B) + beta·C, row-major, with element offsets and batch strides.</summary>
internal struct GemmShape
{
    public int M, N, K, Lda, Ldb, Ldc, TransA, TransB, Batch;
    /// <summary>Mantissa bits each input loses first (0: float32; 13: TF32; 16: bfloat16), rounded to nearest even.</summary>
    public int DropBits;
    public long OffA, OffB, OffC, StrideA, StrideB, StrideC;
    public float Alpha, Beta;
}

/// <summary>
/// The GPU backend's matrix, softmax, loss and norm kernels (ILGPU C#; see <see cref="GpuPointwise"/>). They are plain
/// one-thread-per-output loops: correct on every ILGPU accelerator and the reference the CUDA-specific paths (cuBLAS
/// GEMM, fused attention) are checked against; they are not yet fast.
/// </summary>
internal static class GpuModelKernels
{
    /// <summary>One thread per element of C (over all batches).</summary>
    public static void Gemm(Index1D t, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmShape s, Launch p)
    {
        for (long idx = t; idx < p.N; idx += p.Threads)
        {
            int j = (int)(idx % s.N), i = (int)(idx / s.N % s.M), bt = (int)(idx / ((long)s.N * s.M));
            long ao = s.OffA + bt * s.StrideA, bo = s.OffB + bt * s.StrideB, co = s.OffC + bt * s.StrideC + (long)i * s.Ldc + j;
            float sum = 0f;
            for (int k = 0; k < s.K; k++)
            {
                float av = s.TransA == 0 ? a[ao + (long)i * s.Lda + k] : a[ao + (long)k * s.Lda + i];
                float bv = s.TransB == 0 ? b[bo + (long)k * s.Ldb + j] : b[bo + (long)j * s.Ldb + k];
                if (s.DropBits != 0) { av = RoundMantissa(av, s.DropBits); bv = RoundMantissa(bv, s.DropBits); }
                sum += av * bv;
            }
            float r = s.Alpha * sum;
            if (s.Beta != 0f) r += s.Beta * c[co];
            c[co] = r;
        }
    }

    /// <summary>
    /// x with its lowest <paramref name="dropBits"/> mantissa bits rounded away, to nearest even (bfloat16: 16, TF32: 13),
    /// as a GPU's tensor cores and cuBLAS's conversions round; infinities and NaN pass unchanged.
    /// </summary>
    public static float RoundMantissa(float x, int dropBits)
    {
        uint bits = Interop.FloatAsInt(x);
        if ((bits & 0x7F800000u) == 0x7F800000u) return x;
        uint half = (1u << (dropBits - 1)) - 1u + ((bits >> dropBits) & 1u);
        return Interop.IntAsFloat((bits + half) & ~((1u << dropBits) - 1u));
    }

    /// <summary>y = x as bfloat16 bits (round to nearest even), what cuBLAS reads for bf16 products.</summary>
    public static void ToBf16(Index1D t, ArrayView<float> x, ArrayView<ushort> y, Launch p)
    {
        for (int i = t; i < p.N; i += p.Threads) y[i] = (ushort)(Interop.FloatAsInt(RoundMantissa(x[i], 16)) >> 16);
    }

    /// <summary>c[i, j] += bias[j] for a row-major [M, N] matrix with leading dimension I1 (I0 = N; N = M·N).</summary>
    public static void AddBiasRows(Index1D t, ArrayView<float> c, ArrayView<float> bias, Launch p)
    {
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int i = idx / p.I0, j = idx % p.I0;
            c[(long)i * p.I1 + j] += bias[j];
        }
    }

    /// <summary>dst[j] = Σ_r src[r, j] (I0 = rows; N = cols).</summary>
    public static void ColumnSums(Index1D t, ArrayView<float> src, ArrayView<float> dst, Launch p)
    {
        for (int j = t; j < p.N; j += p.Threads)
        {
            float s = 0f;
            for (int r = 0; r < p.I0; r++) s += src[(long)r * p.N + j];
            dst[j] = s;
        }
    }

    /// <summary>(Log-)softmax along the middle axis of [outer, n, inner], one thread per (o, i) (I0 = n, I1 = inner, Op 1 = log).</summary>
    public static void Softmax(Index1D t, ArrayView<float> x, ArrayView<float> y, Launch p)
    {
        int n = p.I0, inner = p.I1;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int o = idx / inner, i = idx % inner;
            long at = (long)o * n * inner + i;
            float max = float.NegativeInfinity;
            for (int j = 0; j < n; j++) max = XMath.Max(max, x[at + (long)j * inner]);
            float sum = 0f;
            for (int j = 0; j < n; j++) sum += XMath.Exp(x[at + (long)j * inner] - max);
            float logSum = XMath.Log(sum);
            for (int j = 0; j < n; j++)
            {
                float z = x[at + (long)j * inner] - max;
                y[at + (long)j * inner] = p.Op == 1 ? z - logSum : XMath.Exp(z) / sum;
            }
        }
    }

    /// <summary>softmax: dx = y·(g − Σ g·y); log-softmax: dx = g − exp(y)·Σ g.</summary>
    public static void SoftmaxBackward(Index1D t, ArrayView<float> y, ArrayView<float> g, ArrayView<float> dx, Launch p)
    {
        int n = p.I0, inner = p.I1;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int o = idx / inner, i = idx % inner;
            long at = (long)o * n * inner + i;
            float dot = 0f;
            for (int j = 0; j < n; j++) dot += p.Op == 1 ? g[at + (long)j * inner] : g[at + (long)j * inner] * y[at + (long)j * inner];
            for (int j = 0; j < n; j++)
            {
                long e = at + (long)j * inner;
                dx[e] = p.Op == 1 ? g[e] - XMath.Exp(y[e]) * dot : y[e] * (g[e] - dot);
            }
        }
    }

    /// <summary>Per row of logits [N, C] (I0 = C, I1 = ignore index): lse and the row's loss (0 for ignored rows).</summary>
    public static void CrossEntropy(Index1D t, ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> lse, ArrayView<float> loss, Launch p)
    {
        int c = p.I0;
        for (int r = t; r < p.N; r += p.Threads)
        {
            long at = (long)r * c;
            float max = float.NegativeInfinity;
            for (int j = 0; j < c; j++) max = XMath.Max(max, logits[at + j]);
            float sum = 0f;
            for (int j = 0; j < c; j++) sum += XMath.Exp(logits[at + j] - max);
            float l = max + XMath.Log(sum);
            lse[r] = l;
            int target = targets[r];
            loss[r] = target == p.I1 ? 0f : l - logits[at + target];
        }
    }

    /// <summary>
    /// dl[r, j] = (softmax − onehot)·scale, scale = g[0]/count (Op 1: the mean) or g[r] (Op 0: per row); 0 on ignored rows.
    /// (I0 = C, I1 = ignore index, I2 = count; N = rows·C.)
    /// </summary>
    public static void CrossEntropyBackward(Index1D t, ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> lse, ArrayView<float> g,
        ArrayView<float> dl, Launch p)
    {
        int c = p.I0;
        for (long idx = t; idx < p.N; idx += p.Threads)
        {
            int r = (int)(idx / c), j = (int)(idx % c), target = targets[r];
            if (target == p.I1) { dl[idx] = 0f; continue; }
            float scale = p.Op == 1 ? (p.I2 == 0 ? 0f : g[0] / p.I2) : g[r];
            float prob = XMath.Exp(logits[idx] - lse[r]);
            dl[idx] = (prob - (j == target ? 1f : 0f)) * scale;
        }
    }

    /// <summary>y[0] = Σ loss over rows not ignored / count, NaN when count is 0 (one thread; I0 = count, I1 = ignore index).</summary>
    public static void MeanOverTargets(Index1D t, ArrayView<float> loss, ArrayView<int> targets, ArrayView<float> y, Launch p)
    {
        double s = 0;
        for (int r = 0; r < p.N; r++)
            if (targets[r] != p.I1) s += loss[r];
        y[0] = p.I0 == 0 ? float.NaN : (float)(s / p.I0);
    }

    /// <summary>dp = g[0]·2·diff/N (Op 1, squared) or g[0]·sign(diff)/N (I0 = N as the divisor).</summary>
    public static void PairLossBackward(Index1D t, ArrayView<float> diff, ArrayView<float> g, ArrayView<float> dp, Launch p)
    {
        for (int i = t; i < p.N; i += p.Threads)
        {
            float k = g[0] / p.I0 * (p.Op == 1 ? 2f : 1f);
            float d = diff[i];
            dp[i] = p.Op == 1 ? d * k : d > 0 ? k : d < 0 ? -k : 0f;
        }
    }

    /// <summary>
    /// LayerNorm / RMSNorm (Op 1) of each row [rows, d] (I0 = d, I1/I2 = has weight/bias, P = eps): one thread per row,
    /// statistics in double, mean and rstd saved for the backward.
    /// </summary>
    public static void RowNorm(Index1D t, ArrayView<float> x, ArrayView<float> w, ArrayView<float> b, ArrayView<float> y,
        ArrayView<float> mean, ArrayView<float> rstd, Launch p)
    {
        int d = p.I0;
        for (int r = t; r < p.N; r += p.Threads)
        {
            long at = (long)r * d;
            double s1 = 0, s2 = 0;
            for (int j = 0; j < d; j++) { double v = x[at + j]; s1 += v; s2 += v * v; }
            double mu = p.Op == 1 ? 0 : s1 / d;
            double variance = p.Op == 1 ? s2 / d : XMath.Max(s2 / d - mu * mu, 0.0);
            float rs = (float)(1.0 / XMath.Sqrt(variance + p.P));
            mean[r] = (float)mu;
            rstd[r] = rs;
            for (int j = 0; j < d; j++)
            {
                float v = (x[at + j] - (float)mu) * rs;
                if (p.I1 != 0) v *= w[j];
                if (p.I2 != 0) v += b[j];
                y[at + j] = v;
            }
        }
    }

    /// <summary>dx of <see cref="RowNorm"/> per row (Op 1 = RMS; I1 = has weight; I3 = accumulate into dx).</summary>
    public static void RowNormBackwardInput(Index1D t, ArrayView<float> x, ArrayView<float> g, ArrayView<float> w, ArrayView<float> mean,
        ArrayView<float> rstd, ArrayView<float> dx, Launch p)
    {
        int d = p.I0;
        for (int r = t; r < p.N; r += p.Threads)
        {
            long at = (long)r * d;
            float mu = mean[r], rs = rstd[r];
            double sg = 0, sgx = 0;
            for (int j = 0; j < d; j++)
            {
                float gw = g[at + j] * (p.I1 != 0 ? w[j] : 1f);
                sg += gw;
                sgx += gw * (x[at + j] - mu) * rs;
            }
            float mg = p.Op == 1 ? 0f : (float)(sg / d), mgx = (float)(sgx / d);
            for (int j = 0; j < d; j++)
            {
                float gw = g[at + j] * (p.I1 != 0 ? w[j] : 1f);
                float xh = (x[at + j] - mu) * rs;
                float v = rs * (gw - mg - xh * mgx);
                if (p.I3 != 0) dx[at + j] += v; else dx[at + j] = v;
            }
        }
    }

    /// <summary>dw[j] = Σ_r g·x̂ and db[j] = Σ_r g, one thread per column (I1 = rows, I2/I3 = want dw/db).</summary>
    public static void RowNormBackwardParams(Index1D t, ArrayView<float> x, ArrayView<float> g, ArrayView<float> mean, ArrayView<float> rstd,
        ArrayView<float> dw, ArrayView<float> db, Launch p)
    {
        int d = p.N, rows = p.I1;
        for (int j = t; j < d; j += p.Threads)
        {
            float sw = 0f, sb = 0f;
            for (int r = 0; r < rows; r++)
            {
                long e = (long)r * d + j;
                sw += g[e] * (x[e] - mean[r]) * rstd[r];
                sb += g[e];
            }
            if (p.I2 != 0) dw[j] = sw;
            if (p.I3 != 0) db[j] = sb;
        }
    }

    /// <summary>
    /// Causal masking, scaling and softmax of attention scores [BH, Tq, Tk] in place, and each row's log-sum-exp of the
    /// scaled scores (I0 = Tq, I1 = Tk, I2 = causal, P = scale; queries are the last Tq of the Tk positions).
    /// </summary>
    public static void AttentionSoftmax(Index1D t, ArrayView<float> s, ArrayView<float> lse, Launch p)
    {
        int tq = p.I0, tk = p.I1;
        for (int row = t; row < p.N; row += p.Threads)
        {
            int q = row % tq, last = p.I2 != 0 ? tk - tq + q : tk - 1;
            long at = (long)row * tk;
            float max = float.NegativeInfinity;
            for (int j = 0; j <= last; j++) max = XMath.Max(max, s[at + j] * p.P);
            float sum = 0f;
            for (int j = 0; j <= last; j++) sum += XMath.Exp(s[at + j] * p.P - max);
            float l = max + XMath.Log(sum);
            lse[row] = l;
            for (int j = 0; j < tk; j++) s[at + j] = j <= last ? XMath.Exp(s[at + j] * p.P - l) : 0f;
        }
    }

    /// <summary>dS = P·(dP − Σ_j dP·P)·scale in place of dP, per row (P recomputed in the caller's buffer).</summary>
    public static void AttentionSoftmaxBackward(Index1D t, ArrayView<float> prob, ArrayView<float> dp, Launch p)
    {
        int tk = p.I1;
        for (int row = t; row < p.N; row += p.Threads)
        {
            long at = (long)row * tk;
            float dot = 0f;
            for (int j = 0; j < tk; j++) dot += dp[at + j] * prob[at + j];
            for (int j = 0; j < tk; j++) dp[at + j] = prob[at + j] * (dp[at + j] - dot) * p.P;
        }
    }
}
