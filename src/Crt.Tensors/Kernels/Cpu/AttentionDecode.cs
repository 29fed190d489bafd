using System.Runtime.CompilerServices;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Attention of a few queries per head over keys and values read in place, row-major with a head stride
/// (a KV cache's [B, H, capacity, D] storage, of which the first tk rows per head are filled). The blocked
/// kernel of <see cref="AttentionKernels"/> first copies K transposed and V padded, which for one query
/// per head costs more than the products themselves; here every key row is read once, straight from the cache.
/// <para>Per query row: scores sⱼ = scale·q·kⱼ for the visible keys (causal: bottom-right aligned, as in
/// <see cref="AttentionKernels"/>), p = softmax(s), o = Σⱼ pⱼ·vⱼ. Generic over the vector width with a
/// scalar reference at width 0.</para>
/// </summary>
internal static unsafe class AttentionDecode
{
    /// <summary>Up to this many queries per head the decode kernel beats transposing the keys.</summary>
    public const int MaxQueries = 8;

    [ThreadStatic] private static float[]? _scores;

    /// <summary>
    /// o [bh, tq, d] from q [bh, tq, d] and the first tk rows of each head's keys and values, head h starting at
    /// k + h·kvHeadStride (likewise v).
    /// </summary>
    public static void Forward(float* q, float* k, float* v, float* o, int bh, int tq, int tk, int d, long kvHeadStride, bool causal, float scale)
    {
        nint Q = (nint)q, K = (nint)k, V = (nint)v, O = (nint)o;
        Par.ForRange(bh, 4L * tq * tk * d, (h0, h1) =>
        {
            var scores = _scores is { } s && s.Length >= tk ? s : _scores = new float[Math.Max(tk, 256)];
            fixed (float* sc = scores)
                for (int h = h0; h < h1; h++)
                {
                    float* kh = (float*)K + h * kvHeadStride, vh = (float*)V + h * kvHeadStride;
                    for (int i = 0; i < tq; i++)
                    {
                        int vis = causal ? tk - tq + i + 1 : tk;
                        long row = ((long)h * tq + i) * d;
                        Row((float*)Q + row, kh, vh, (float*)O + row, vis, d, scale, sc);
                    }
                }
        });
    }

    private static void Row(float* q, float* k, float* v, float* o, int vis, int d, float scale, float* s)
    {
        switch (SimdPath.Bits)
        {
            case 512: Scores<V512>(q, k, vis, d, scale, s); break;
            case 256: Scores<V256>(q, k, vis, d, scale, s); break;
            case 128: Scores<V128>(q, k, vis, d, scale, s); break;
            default: ScoresScalar(q, k, vis, d, scale, s); break;
        }
        float m = SoftmaxRows.Max(s, vis);
        float inv = 1f / SoftmaxRows.SumExp(s, m, s, vis);
        switch (SimdPath.Bits)
        {
            case 512: Mix<V512>(s, v, vis, d, inv, o); break;
            case 256: Mix<V256>(s, v, vis, d, inv, o); break;
            case 128: Mix<V128>(s, v, vis, d, inv, o); break;
            default: MixScalar(s, v, vis, d, inv, o); break;
        }
    }

    /// <summary>s[j] = scale·(q·k[j]) for j &lt; n: four keys at a time, so four independent FMA chains and one
    /// horizontal reduction per key.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Scores<V>(float* q, float* k, int n, int d, float scale, float* s) where V : unmanaged, IVec<V>
    {
        int full = d / V.Count * V.Count, j = 0;
        for (; j + 4 <= n; j += 4)
        {
            float* k0 = k + (long)j * d, k1 = k0 + d, k2 = k1 + d, k3 = k2 + d;
            V a0 = V.Zero, a1 = V.Zero, a2 = V.Zero, a3 = V.Zero;
            int c = 0;
            for (; c < full; c += V.Count)
            {
                var qc = V.Load(q + c);
                V.FmaTo(ref a0, qc, V.Load(k0 + c));
                V.FmaTo(ref a1, qc, V.Load(k1 + c));
                V.FmaTo(ref a2, qc, V.Load(k2 + c));
                V.FmaTo(ref a3, qc, V.Load(k3 + c));
            }
            float d0 = V.Sum(a0), d1 = V.Sum(a1), d2 = V.Sum(a2), d3 = V.Sum(a3);
            for (; c < d; c++) { d0 += q[c] * k0[c]; d1 += q[c] * k1[c]; d2 += q[c] * k2[c]; d3 += q[c] * k3[c]; }
            s[j] = d0 * scale; s[j + 1] = d1 * scale; s[j + 2] = d2 * scale; s[j + 3] = d3 * scale;
        }
        for (; j < n; j++)
        {
            float* kj = k + (long)j * d;
            var a = V.Zero;
            int c = 0;
            for (; c < full; c += V.Count) V.FmaTo(ref a, V.Load(q + c), V.Load(kj + c));
            float dot = V.Sum(a);
            for (; c < d; c++) dot += q[c] * kj[c];
            s[j] = dot * scale;
        }
    }

    private static void ScoresScalar(float* q, float* k, int n, int d, float scale, float* s)
    {
        for (int j = 0; j < n; j++)
        {
            float dot = 0;
            for (int c = 0; c < d; c++) dot += q[c] * k[(long)j * d + c];
            s[j] = dot * scale;
        }
    }

    /// <summary>o = inv·Σⱼ p[j]·v[j] for j &lt; n: four column vectors at a time held in registers over all keys
    /// (four independent FMA chains), then single column vectors, then a scalar tail.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Mix<V>(float* p, float* v, int n, int d, float inv, float* o) where V : unmanaged, IVec<V>
    {
        int w = V.Count, full = d / w * w, c = 0;
        var scale = V.Create(inv);
        for (; c + 4 * w <= full; c += 4 * w)
        {
            V a0 = V.Zero, a1 = V.Zero, a2 = V.Zero, a3 = V.Zero;
            float* vr = v + c;
            for (int j = 0; j < n; j++, vr += d)
            {
                var pj = V.Create(p[j]);
                V.FmaTo(ref a0, pj, V.Load(vr));
                V.FmaTo(ref a1, pj, V.Load(vr + w));
                V.FmaTo(ref a2, pj, V.Load(vr + 2 * w));
                V.FmaTo(ref a3, pj, V.Load(vr + 3 * w));
            }
            (a0 * scale).Store(o + c); (a1 * scale).Store(o + c + w);
            (a2 * scale).Store(o + c + 2 * w); (a3 * scale).Store(o + c + 3 * w);
        }
        for (; c < full; c += w)
        {
            V a0 = V.Zero, a1 = V.Zero;
            int j = 0;
            for (; j + 1 < n; j += 2)
            {
                V.FmaTo(ref a0, V.Create(p[j]), V.Load(v + (long)j * d + c));
                V.FmaTo(ref a1, V.Create(p[j + 1]), V.Load(v + (long)(j + 1) * d + c));
            }
            if (j < n) V.FmaTo(ref a0, V.Create(p[j]), V.Load(v + (long)j * d + c));
            ((a0 + a1) * scale).Store(o + c);
        }
        if (full < d) MixScalar(p, v, n, d, inv, o, full);
    }

    private static void MixScalar(float* p, float* v, int n, int d, float inv, float* o, int from = 0)
    {
        for (int c = from; c < d; c++)
        {
            float a = 0;
            for (int j = 0; j < n; j++) a += p[j] * v[(long)j * d + c];
            o[c] = a * inv;
        }
    }
}
