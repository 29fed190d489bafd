namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// LlamaGen's rotary position embedding (apply_rotary_emb): adjacent pairs of a head's elements rotate by a
/// per-position angle. One source generic over the vector width (a pair rotation is a lane-pair swap and two
/// multiplies), picked by <see cref="SimdPath.Bits"/>, with a scalar loop at width 0 and for the tail.
/// </summary>
public static unsafe class RotaryKernels
{
    /// <summary>
    /// apply_rotary_emb on x [b, t, h, d] with table [t, d/2, 2]: (x₂ᵢ, x₂ᵢ₊₁) rotates by (cos, sin).
    /// With <paramref name="inverse"/> the rotation is by the negative angle (the backward).
    /// </summary>
    public static void Rotary(ReadOnlySpan<float> x, ReadOnlySpan<float> table, Span<float> y, int b, int t, int h, int d, bool inverse)
    {
        int half = d / 2, bits = SimdPath.Bits;
        fixed (float* px = x, pt = table, py = y)
        {
            nint X = (nint)px, TB = (nint)pt, Y = (nint)py;
            Par.ForRange(b * t, 4L * h * d, (s, e) =>
            {
                // per position: cos and ±sin expanded to the interleaved layout, so a pair rotates as
                // y = x∘[c, c] + swap(x)∘[−s, s]
                var cs = new float[2 * d];
                fixed (float* cexp = cs)
                {
                    float* sexp = cexp + d;
                    for (int bt = s; bt < e; bt++)
                    {
                        float* f = (float*)TB + (long)(bt % t) * half * 2;
                        for (int i = 0; i < half; i++)
                        {
                            float c = f[2 * i], sn = inverse ? -f[2 * i + 1] : f[2 * i + 1];
                            cexp[2 * i] = c; cexp[2 * i + 1] = c;
                            sexp[2 * i] = -sn; sexp[2 * i + 1] = sn;
                        }
                        for (int hh = 0; hh < h; hh++)
                        {
                            long at = ((long)bt * h + hh) * d;
                            float* xr = (float*)X + at, yr = (float*)Y + at;
                            int i = bits switch
                            {
                                512 => RotateRow<V512>(xr, yr, cexp, sexp, d),
                                256 => RotateRow<V256>(xr, yr, cexp, sexp, d),
                                128 => RotateRow<V128>(xr, yr, cexp, sexp, d),
                                _ => 0,
                            };
                            for (; i < d; i += 2)
                            {
                                float x0 = xr[i], x1 = xr[i + 1];
                                yr[i] = x0 * cexp[i] + x1 * sexp[i];
                                yr[i + 1] = x1 * cexp[i + 1] + x0 * sexp[i + 1];
                            }
                        }
                    }
                }
            });
        }
    }

    /// <summary>Rotates the whole vectors of a row; returns where the scalar tail starts (even: vectors hold whole pairs).</summary>
    private static int RotateRow<V>(float* x, float* y, float* c, float* sgn, int d) where V : unmanaged, IVec<V>
    {
        int i = 0;
        for (; i + V.Count <= d; i += V.Count)
        {
            var xv = V.Load(x + i);
            V.Fma(V.SwapPairs(xv), V.Load(sgn + i), xv * V.Load(c + i)).Store(y + i);
        }
        return i;
    }
}
