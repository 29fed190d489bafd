namespace Crt.Tensors;

/// <summary>
/// Seeded random number generator (xoshiro256**, seeded by SplitMix64). The same seed gives the
/// same numbers on every machine; the state can be saved and restored for exact resume.
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;
    private double? _spareNormal;

    /// <summary>The generator that initialisers and dropout use unless given another.</summary>
    public static Rng Default { get; set; } = new(0);

    public Rng(ulong seed) => Reseed(seed);

    public void Reseed(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
        _spareNormal = null;
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextUInt64() => Step(ref _s0, ref _s1, ref _s2, ref _s3);

    /// <summary>One xoshiro256** step on the given state words (fields, or locals a loop keeps in registers).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static ulong Step(ref ulong s0, ref ulong s1, ref ulong s2, ref ulong s3)
    {
        ulong result = ulong.RotateLeft(s1 * 5, 7) * 9;
        ulong t = s1 << 17;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
        s2 ^= t;
        s3 = ulong.RotateLeft(s3, 45);
        return result;
    }

    /// <summary>
    /// The key of a counter-based generator (the GPU backend's Philox dropout): one 64-bit draw split into two 32-bit
    /// words. A device generates a whole tensor from (key, element index) without this state, so one draw per tensor
    /// advances the stream: a seed reproduces the masks and consecutive masks differ.
    /// </summary>
    internal (uint Lo, uint Hi) NextCounterKey()
    {
        ulong k = NextUInt64();
        return ((uint)k, (uint)(k >> 32));
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), $"NextInt: bound must be positive, got {n}");
        return (int)((NextUInt64() >> 33) * (ulong)n >> 31);
    }

    /// <summary>Standard normal (Box–Muller, both values of each pair used).</summary>
    public double NextNormal()
    {
        if (_spareNormal is { } s) { _spareNormal = null; return s; }
        double u1;
        do u1 = NextDouble(); while (u1 <= double.Epsilon);
        double u2 = NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        _spareNormal = r * Math.Sin(2 * Math.PI * u2);
        return r * Math.Cos(2 * Math.PI * u2);
    }

    // ---- tensors ----------------------------------------------------------------------------------

    public Tensor Normal(int[] shape, float mean = 0f, float std = 1f)
    {
        var t = Tensor.Empty(shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (float)(mean + std * NextNormal());
        return t;
    }

    public Tensor Uniform(int[] shape, float low = 0f, float high = 1f)
    {
        var t = Tensor.Empty(shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (float)(low + (high - low) * NextDouble());
        return t;
    }

    /// <summary>1 with probability <paramref name="p"/>, else 0.</summary>
    public Tensor Bernoulli(int[] shape, float p)
    {
        if (p < 0 || p > 1) throw new ArgumentOutOfRangeException(nameof(p), $"Bernoulli: probability {p} is outside [0, 1]");
        var t = Tensor.Empty(shape);
        FillBelow(t.Span, p, 1f, 0f);
        return t;
    }

    /// <summary>
    /// dst[i] = <paramref name="below"/> where the i-th <see cref="NextDouble"/> is below <paramref name="p"/>, else
    /// <paramref name="above"/>: the same draws and the same result as that loop, but with the state in registers and
    /// no branch (a loop of NextDouble() calls stores and reloads the four state words at every draw, and mispredicts
    /// a branch at every kept-or-dropped change; serial dropout masks feel both).
    /// </summary>
    public void FillBelow(Span<float> dst, double p, float below, float above)
    {
        // NextDouble() < p ⇔ x·2⁻⁵³ < p ⇔ x < p·2⁵³ ⇔ x < ⌈p·2⁵³⌉ for the integer x (the top 53 bits of a draw).
        const double twoTo53 = 1UL << 53;
        long limit = p >= 1 ? 1L << 53 : p > 0 ? (long)Math.Ceiling(p * twoTo53) : 0; // NaN and p ≤ 0: never below
        int belowBits = BitConverter.SingleToInt32Bits(below), aboveBits = BitConverter.SingleToInt32Bits(above);
        ulong s0 = _s0, s1 = _s1, s2 = _s2, s3 = _s3;
        for (int i = 0; i < dst.Length; i++)
        {
            ulong result = Step(ref s0, ref s1, ref s2, ref s3);
            int isBelow = (int)(((long)(result >> 11) - limit) >> 63); // all ones where x < limit (both are at most 2⁵³)
            dst[i] = BitConverter.Int32BitsToSingle((belowBits & isBelow) | (aboveBits & ~isBelow));
        }
        _s0 = s0; _s1 = s1; _s2 = s2; _s3 = s3;
    }

    /// <summary>
    /// One draw per row of <paramref name="probs"/> ([rows, k], non-negative, need not be normalised):
    /// the index whose cumulative weight first exceeds u·total, u uniform in [0, 1).
    /// </summary>
    public int[] Multinomial(Tensor probs)
    {
        if (probs.Rank != 2) throw new ArgumentException($"Multinomial: expected [rows, k] probabilities, got {ShapeUtil.Format(probs.Shape)}");
        int rows = probs.Shape[0], k = probs.Shape[1];
        var result = new int[rows];
        var p = probs.ReadOnlySpan;
        for (int r = 0; r < rows; r++) result[r] = SampleIndex(p.Slice(r * k, k));
        return result;
    }

    /// <summary>Samples an index from unnormalised non-negative weights.</summary>
    public int SampleIndex(ReadOnlySpan<float> weights)
    {
        double total = 0;
        foreach (var w in weights)
        {
            if (!(w >= 0) || float.IsInfinity(w)) throw new ArgumentException($"Multinomial: weight {w} is negative, infinite or NaN");
            total += w;
        }
        if (total <= 0) throw new ArgumentException("Multinomial: all weights are zero");
        double u = NextDouble() * total, acc = 0;
        int last = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            if (weights[i] <= 0) continue;
            acc += weights[i];
            last = i;
            if (u < acc) return i;
        }
        return last;
    }

    // ---- state ------------------------------------------------------------------------------------

    /// <summary>The full state, for checkpoints.</summary>
    public ulong[] GetState() => new[] { _s0, _s1, _s2, _s3, _spareNormal is { } s ? 1UL : 0UL, BitConverter.DoubleToUInt64Bits(_spareNormal ?? 0) };

    public void SetState(ulong[] state)
    {
        if (state.Length != 6) throw new ArgumentException($"Rng state must have 6 words, got {state.Length}");
        (_s0, _s1, _s2, _s3) = (state[0], state[1], state[2], state[3]);
        _spareNormal = state[4] != 0 ? BitConverter.UInt64BitsToDouble(state[5]) : null;
    }
}
