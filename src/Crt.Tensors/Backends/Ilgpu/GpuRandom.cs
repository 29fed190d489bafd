using ILGPU;

namespace Crt.Tensors.Backends.Ilgpu;

/// <summary>Four 32-bit words: one Philox counter or output block.</summary>
internal struct Philox4
{
    public uint X, Y, Z, W;
}

/// <summary>
/// Random numbers drawn on the device. A sequential generator (the host's xoshiro <see cref="Rng"/>) cannot be split
/// over threads, and drawing on the host would cost a transfer per dropout; a counter-based generator gives every
/// element its own independent draw from (key, element index) with no state. Philox-4x32-10 (Salmon et al., "Parallel
/// random numbers: as easy as 1, 2, 3", SC 2011; the generator of cuRAND and JAX) passes BigCrush and needs only 32-bit
/// multiplies. The key comes from the op's <see cref="Rng"/> (one 64-bit draw per mask), so a seed reproduces the masks
/// and consecutive masks differ; the stream is not the CPU backend's.
/// </summary>
internal static class GpuRandom
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>The Philox-4x32-10 block of counter <paramref name="c"/> under key (k0, k1): ten rounds, the key bumped between them.</summary>
    public static Philox4 Philox(Philox4 c, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            if (round > 0) { k0 += W0; k1 += W1; }
            ulong p0 = (ulong)M0 * c.X, p1 = (ulong)M1 * c.Z;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0, hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            c = new Philox4 { X = hi1 ^ c.Y ^ k0, Y = lo1, Z = hi0 ^ c.W ^ k1, W = lo0 };
        }
        return c;
    }

    /// <summary>
    /// mask[i] = 0 where u &lt; p, else Q (= 1/(1 − p)), u uniform in [0, 1) from the top 24 bits of the first word of
    /// Philox((i, 0, 0, 0), key) (every float in [0, 1) with 24 bits is exact, so u &lt; p keeps with probability 1 − p
    /// to 2⁻²⁴). Key words in I0, I1 (as int bits); P = p.
    /// </summary>
    public static void DropoutMask(Index1D t, ArrayView<float> mask, Launch p)
    {
        uint k0 = (uint)p.I0, k1 = (uint)p.I1;
        for (int i = t; i < p.N; i += p.Threads)
        {
            var r = Philox(new Philox4 { X = (uint)i }, k0, k1);
            float u = (r.X >> 8) * (1f / 16777216f);
            mask[i] = u < p.P ? 0f : p.Q;
        }
    }
}
