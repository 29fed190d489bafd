using ILGPU;
using ILGPU.Algorithms;

namespace Crt.Tensors.Backends.Ilgpu;

/// <summary>Scalars a launch passes to its kernel: the element count, the launched thread count (the grid-stride step) and parameters.</summary>
internal struct Launch
{
    public int N, Threads, Op, I0, I1, I2, I3, I4;
    public float P, Q;
}

/// <summary>
/// Pointwise kernels of the GPU backend, written once in C# and compiled by ILGPU: to PTX for a CUDA GPU, to IL for
/// ILGPU's CPU accelerator (how CI runs them). Every kernel is a grid-stride loop, so a launch may use far fewer
/// threads than elements (the CPU accelerator runs a handful). Math comes from ILGPU.Algorithms' XMath, which compiles
/// on every ILGPU backend.
/// </summary>
internal static class GpuPointwise
{
    public static void Fill(Index1D t, ArrayView<float> y, Launch p)
    {
        for (int i = t; i < p.N; i += p.Threads) y[i] = p.P;
    }

    public static void Copy(Index1D t, ArrayView<float> x, ArrayView<float> y, Launch p)
    {
        for (int i = t; i < p.N; i += p.Threads) y[i] = x[i];
    }

    public static void AddInPlace(Index1D t, ArrayView<float> acc, ArrayView<float> x, Launch p)
    {
        for (int i = t; i < p.N; i += p.Threads) acc[i] += x[i];
    }

    /// <summary>acc += t·(b − acc).</summary>
    public static void Lerp(Index1D t, ArrayView<float> a, ArrayView<float> b, Launch p)
    {
        for (int i = t; i < p.N; i += p.Threads) a[i] = a[i] + p.P * (b[i] - a[i]);
    }

    private static float Sigmoid(float x) => 1f / (1f + XMath.Exp(-x));

    /// <summary>erf with |error| &lt; 1.2e-7 (Numerical Recipes' erfc Chebyshev fit), as no GPU math library is assumed.</summary>
    internal static float Erf(float x)
    {
        float z = XMath.Abs(x);
        float t = 1f / (1f + 0.5f * z);
        float r = t * XMath.Exp(-z * z - 1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f
            + t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f)))))))));
        return x >= 0 ? 1f - r : r - 1f;
    }

    private const float Sqrt2OverPi = 0.7978845608f, InvSqrt2 = 0.70710678f, InvSqrt2Pi = 0.39894228f;

    /// <summary>y = f(x) for <see cref="UnaryOp"/> p.Op.</summary>
    public static void Unary(Index1D t, ArrayView<float> x, ArrayView<float> y, Launch p)
    {
        for (int i = t; i < p.N; i += p.Threads)
        {
            float v = x[i], r;
            switch (p.Op)
            {
                case (int)UnaryOp.AddScalar: r = v + p.P; break;
                case (int)UnaryOp.MulScalar: r = v * p.P; break;
                case (int)UnaryOp.Exp: r = XMath.Exp(v); break;
                case (int)UnaryOp.Log: r = XMath.Log(v); break;
                case (int)UnaryOp.Sqrt: r = XMath.Sqrt(v); break;
                case (int)UnaryOp.Square: r = v * v; break;
                case (int)UnaryOp.Abs: r = XMath.Abs(v); break;
                case (int)UnaryOp.Pow: r = XMath.Pow(v, p.P); break;
                case (int)UnaryOp.Clamp: r = XMath.Min(XMath.Max(v, p.P), p.Q); break;
                case (int)UnaryOp.Silu: r = v * Sigmoid(v); break;
                case (int)UnaryOp.Sigmoid: r = Sigmoid(v); break;
                case (int)UnaryOp.Tanh: r = XMath.Tanh(v); break;
                case (int)UnaryOp.LeakyRelu: r = v > 0 ? v : p.P * v; break;
                case (int)UnaryOp.Gelu: r = 0.5f * v * (1f + Erf(v * InvSqrt2)); break;
                default: r = 0.5f * v * (1f + XMath.Tanh(Sqrt2OverPi * (v + 0.044715f * v * v * v))); break; // GeluTanh
            }
            y[i] = r;
        }
    }

    /// <summary>dx = g·f'(x) for <see cref="UnaryOp"/> p.Op, given the forward's input x and output y.</summary>
    public static void UnaryBackward(Index1D t, ArrayView<float> x, ArrayView<float> y, ArrayView<float> g, ArrayView<float> dx, Launch p)
    {
        for (int i = t; i < p.N; i += p.Threads)
        {
            float gi = g[i], r;
            switch (p.Op)
            {
                case (int)UnaryOp.AddScalar: r = gi; break;
                case (int)UnaryOp.MulScalar: r = gi * p.P; break;
                case (int)UnaryOp.Exp: r = gi * y[i]; break;
                case (int)UnaryOp.Log: r = gi / x[i]; break;
                case (int)UnaryOp.Sqrt: r = gi / y[i] * 0.5f; break;
                case (int)UnaryOp.Square: r = gi * x[i] * 2f; break;
                case (int)UnaryOp.Abs: r = x[i] > 0 ? gi : x[i] < 0 ? -gi : 0f; break;
                case (int)UnaryOp.Pow: r = XMath.Pow(x[i], p.P - 1f) * p.P * gi; break;
                case (int)UnaryOp.Clamp: r = x[i] >= p.P && x[i] <= p.Q ? gi : 0f; break;
                case (int)UnaryOp.Silu:
                {
                    float s = Sigmoid(x[i]);
                    r = gi * s * (1f + x[i] * (1f - s));
                    break;
                }
                case (int)UnaryOp.Sigmoid: r = gi * y[i] * (1f - y[i]); break;
                case (int)UnaryOp.Tanh: r = gi * (1f - y[i] * y[i]); break;
                case (int)UnaryOp.LeakyRelu: r = x[i] > 0 ? gi : p.P * gi; break;
                case (int)UnaryOp.Gelu:
                {
                    float v = x[i];
                    r = gi * (0.5f * (1f + Erf(v * InvSqrt2)) + v * InvSqrt2Pi * XMath.Exp(-0.5f * v * v));
                    break;
                }
                default: // GeluTanh
                {
                    float v = x[i], u = Sqrt2OverPi * (v + 0.044715f * v * v * v), th = XMath.Tanh(u);
                    r = gi * (0.5f * (1f + th) + 0.5f * v * (1f - th * th) * Sqrt2OverPi * (1f + 3f * 0.044715f * v * v));
                    break;
                }
            }
            dx[i] = r;
        }
    }

    /// <summary>
    /// y = a op b with broadcasting: meta holds the rank R, y's shape (R ints), then a's and b's strides over y's dims
    /// (0 where the operand broadcasts). p.Op is the <see cref="Kernels.Cpu.BinaryOp"/>.
    /// </summary>
    public static void Binary(Index1D t, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, ArrayView<int> meta, Launch p)
    {
        int rank = meta[0];
        for (int i = t; i < p.N; i += p.Threads)
        {
            int rem = i, ia = 0, ib = 0;
            for (int d = rank - 1; d >= 0; d--)
            {
                int size = meta[1 + d], c = rem % size;
                rem /= size;
                ia += c * meta[1 + rank + d];
                ib += c * meta[1 + 2 * rank + d];
            }
            float u = a[ia], v = b[ib];
            y[i] = p.Op switch { 0 => u + v, 1 => u - v, 2 => u * v, _ => u / v };
        }
    }

    /// <summary>
    /// r = g summed over the dims where r broadcasts: meta holds the rank R, r's shape padded to R dims (1 where
    /// summed), g's shape, g's strides. One thread per element of r walks the summed dims (no atomics: deterministic).
    /// </summary>
    public static void ReduceTo(Index1D t, ArrayView<float> g, ArrayView<float> r, ArrayView<int> meta, Launch p)
    {
        int rank = meta[0];
        int reduceCount = p.I0;
        for (int j = t; j < p.N; j += p.Threads)
        {
            int rem = j, baseOffset = 0;
            for (int d = rank - 1; d >= 0; d--)
            {
                int size = meta[1 + d], c = rem % size;
                rem /= size;
                baseOffset += c * meta[1 + 2 * rank + d];
            }
            float sum = 0f;
            for (int k = 0; k < reduceCount; k++)
            {
                int kr = k, off = baseOffset;
                for (int d = rank - 1; d >= 0; d--)
                {
                    if (meta[1 + d] != 1 || meta[1 + rank + d] == 1) continue; // not a summed dim
                    int size = meta[1 + rank + d], c = kr % size;
                    kr /= size;
                    off += c * meta[1 + 2 * rank + d];
                }
                sum += g[off];
            }
            r[j] = sum;
        }
    }

    /// <summary>y = permuted x: meta holds the rank R, y's shape, and x's stride for each of y's dims.</summary>
    public static void Permute(Index1D t, ArrayView<float> x, ArrayView<float> y, ArrayView<int> meta, Launch p)
    {
        int rank = meta[0];
        for (int i = t; i < p.N; i += p.Threads)
        {
            int rem = i, off = 0;
            for (int d = rank - 1; d >= 0; d--)
            {
                int size = meta[1 + d], c = rem % size;
                rem /= size;
                off += c * meta[1 + rank + d];
            }
            y[i] = x[off];
        }
    }

    /// <summary>
    /// Slices along the middle axis of [outer, n, inner]: element i of the [outer, len, inner] block maps to
    /// x[o, start + j, k]. p.Op 0: y = x's block; 1: x's block += y; 2: x's block = y. (I0..I3 = n, inner, start, len.)
    /// </summary>
    public static void Slice(Index1D t, ArrayView<float> x, ArrayView<float> y, Launch p)
    {
        int n = p.I0, inner = p.I1, start = p.I2, len = p.I3;
        for (int i = t; i < p.N; i += p.Threads)
        {
            int k = i % inner, rest = i / inner, j = rest % len, o = rest / len;
            int xi = (o * n + start + j) * inner + k;
            if (p.Op == 0) y[i] = x[xi];
            else if (p.Op == 1) x[xi] += y[i];
            else x[xi] = y[i];
        }
    }

    /// <summary>y[o, i] = scale·Σ_j x[o, j, i] (I0 = n, I1 = inner; N = outer·inner).</summary>
    public static void SumAxis(Index1D t, ArrayView<float> x, ArrayView<float> y, Launch p)
    {
        int n = p.I0, inner = p.I1;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int o = idx / inner, i = idx % inner;
            float s = 0f;
            for (int j = 0; j < n; j++) s += x[(o * n + j) * inner + i];
            y[idx] = s * p.P;
        }
    }

    /// <summary>dx[o, j, i] = scale·g[o, i] (N = outer·n·inner).</summary>
    public static void ExpandAxis(Index1D t, ArrayView<float> g, ArrayView<float> dx, Launch p)
    {
        int n = p.I0, inner = p.I1;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int i = idx % inner, o = idx / inner / n;
            dx[idx] = g[o * inner + i] * p.P;
        }
    }

    /// <summary>Max (p.Op 0) or min (1) along the middle axis, first index on ties; writes the value and the index.</summary>
    public static void MaxAxis(Index1D t, ArrayView<float> x, ArrayView<float> y, ArrayView<int> arg, Launch p)
    {
        int n = p.I0, inner = p.I1;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int o = idx / inner, i = idx % inner, best = 0;
            float bv = x[o * n * inner + i];
            for (int j = 1; j < n; j++)
            {
                float v = x[(o * n + j) * inner + i];
                if (p.Op == 0 ? v > bv : v < bv) { bv = v; best = j; }
            }
            y[idx] = bv;
            arg[idx] = best;
        }
    }

    /// <summary>dx[o, arg, i] += g[o, i].</summary>
    public static void MaxAxisBackward(Index1D t, ArrayView<float> g, ArrayView<int> arg, ArrayView<float> dx, Launch p)
    {
        int n = p.I0, inner = p.I1;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int o = idx / inner, i = idx % inner;
            dx[(o * n + arg[idx]) * inner + i] += g[idx];
        }
    }

    /// <summary>
    /// Stage 1 of a full reduction: each of the p.Threads threads sums its strided share (p.Op 0: x, 1: x², 2: |x|) in
    /// double into partial[t]. Stage 2 (<see cref="FinishSum"/>) adds the partials in order, so the result is deterministic.
    /// </summary>
    public static void PartialSums(Index1D t, ArrayView<float> x, ArrayView<double> partial, Launch p)
    {
        double s = 0;
        for (int i = t; i < p.N; i += p.Threads)
        {
            double v = x[i];
            s += p.Op == 0 ? v : p.Op == 1 ? v * v : XMath.Abs(v);
        }
        partial[t] = s;
    }

    /// <summary>y[p.I0] = scale · Σ partial (one thread).</summary>
    public static void FinishSum(Index1D t, ArrayView<double> partial, ArrayView<float> y, Launch p)
    {
        double s = 0;
        for (int i = 0; i < p.N; i++) s += partial[i];
        y[p.I0] = (float)(s * p.P);
    }

    /// <summary>y = x[index] along the middle axis (I0 = n, I1 = inner, I2 = m indices).</summary>
    public static void IndexSelect(Index1D t, ArrayView<float> x, ArrayView<int> index, ArrayView<float> y, Launch p)
    {
        int n = p.I0, inner = p.I1, m = p.I2;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int k = idx % inner, rest = idx / inner, j = rest % m, o = rest / m;
            y[idx] = x[(o * n + index[j]) * inner + k];
        }
    }

    /// <summary>dx[o, r, k] += Σ_{j: index[j] = r} g[o, j, k]: one thread per element of dx (deterministic).</summary>
    public static void IndexSelectBackward(Index1D t, ArrayView<float> g, ArrayView<int> index, ArrayView<float> dx, Launch p)
    {
        int n = p.I0, inner = p.I1, m = p.I2;
        for (int idx = t; idx < p.N; idx += p.Threads)
        {
            int k = idx % inner, rest = idx / inner, r = rest % n, o = rest / n;
            float s = 0f;
            for (int j = 0; j < m; j++)
                if (index[j] == r) s += g[(o * m + j) * inner + k];
            dx[idx] += s;
        }
    }

    /// <summary>table[indices[i], c] += g[i, c]: one thread per column walks the rows in order (deterministic; I0 = d, I1 = rows).</summary>
    public static void ScatterAddRows(Index1D t, ArrayView<float> g, ArrayView<int> indices, ArrayView<float> table, Launch p)
    {
        int d = p.I0, rows = p.I1;
        for (int c = t; c < p.N; c += p.Threads)
            for (int i = 0; i < rows; i++) table[indices[i] * d + c] += g[i * d + c];
    }

    /// <summary>y[i, c] = table[indices[i], c] (I0 = d).</summary>
    public static void GatherRows(Index1D t, ArrayView<float> table, ArrayView<int> indices, ArrayView<float> y, Launch p)
    {
        int d = p.I0;
        for (int idx = t; idx < p.N; idx += p.Threads) y[idx] = table[indices[idx / d] * d + idx % d];
    }

    /// <summary>One Adam(W) step (the CPU kernel's arithmetic): P = step size, Q = eps; the rest in args.</summary>
    public static void AdamStep(Index1D t, ArrayView<float> w, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, AdamArgs a, Launch p)
    {
        for (int i = t; i < p.N; i += p.Threads)
        {
            float pi = w[i] * a.DecayFactor;
            float gi = g[i] + a.L2 * pi;
            float mi = a.Beta1 * m[i] + (1f - a.Beta1) * gi;
            float vi = a.Beta2 * v[i] + (1f - a.Beta2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            w[i] = pi - a.StepSize * mi / (XMath.Sqrt(vi) / a.Bc2Sqrt + a.Eps);
        }
    }

    /// <summary>Rotary embedding of x [B, T, H, D] with table [T, D/2, 2] (I0 = T, I1 = H, I2 = D; Op 1 = inverse rotation).</summary>
    public static void Rotary(Index1D t, ArrayView<float> x, ArrayView<float> table, ArrayView<float> y, Launch p)
    {
        int tt = p.I0, h = p.I1, d = p.I2, half = d / 2;
        for (int pair = t; pair < p.N; pair += p.Threads)
        {
            int j = pair % half, row = pair / half, pos = row / h % tt;
            float c = table[(pos * half + j) * 2], s = table[(pos * half + j) * 2 + 1];
            if (p.Op == 1) s = -s;
            int i0 = row * d + 2 * j;
            float a = x[i0], b = x[i0 + 1];
            y[i0] = a * c - b * s;
            y[i0 + 1] = a * s + b * c;
        }
    }
}

/// <summary>Adam's per-step constants, as the CPU kernel's <see cref="Kernels.Cpu.AdamStepArgs"/>.</summary>
internal struct AdamArgs
{
    public float Beta1, Beta2, Eps, DecayFactor, L2, StepSize, Bc2Sqrt;
}
