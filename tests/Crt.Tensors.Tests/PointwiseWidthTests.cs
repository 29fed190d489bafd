using Crt.Tensors.Kernels.Cpu;
using Xunit;

namespace Crt.Tensors.Tests;

/// <summary>
/// The pointwise drivers, the activation kernels and the AdamW step at every SIMD width, each held to the scalar
/// reference (SimdPath.Bits = 0). Switches the process-wide width, so the class runs alone.
/// </summary>
[Collection(GlobalKernelSettings.Name)]
public class PointwiseWidthTests
{
    // Test ops whose vector form deliberately differs from the scalar form (+2 vs +1), so a result shows which
    // form computed each element: at a SIMD width every element, the tail included, must come from the vector.
    private struct TagUnary : IUnaryOp
    {
        public float Apply(float x) => 3 * x + 1;
        public V Apply<V>(V x) where V : unmanaged, IVec<V> => V.Create(3) * x + V.Create(2);
    }

    private struct TagBinary : IBinaryOp
    {
        public float Apply(float a, float b) => a - 5 * b + 1;
        public V Apply<V>(V a, V b) where V : unmanaged, IVec<V> => a - V.Create(5) * b + V.Create(2);
    }

    private struct TagTernary : ITernaryOp
    {
        public float Apply(float a, float b, float c) => a * b - c + 1;
        public V Apply<V>(V a, V b, V c) where V : unmanaged, IVec<V> => a * b - c + V.Create(2);
    }

    private const float Sentinel = -12345f;

    [Theory]
    [MemberData(nameof(SimdWidths.All), MemberType = typeof(SimdWidths))]
    public void MapDriversComputeEveryElementWithTheSelectedFormAndWriteNothingPastTheEnd(int bits)
    {
        using var _ = SimdWidths.Use(bits);
        float tag = bits == 0 ? 1 : 2;
        var rng = new Rng(7);
        for (int n = 0; n <= 2 * 16 + 1; n++)
        {
            var a = rng.Normal(new[] { n }).ToArray();
            var b = rng.Normal(new[] { n }).ToArray();
            var c = rng.Normal(new[] { n }).ToArray();
            var y0 = rng.Normal(new[] { n }).ToArray();

            var y = Guarded(n);
            Simd.Map(new TagUnary(), a, y.AsSpan(0, n));
            Check(n, y, i => 3 * a[i] + tag, "unary");

            y = Guarded(n);
            Simd.Map(new TagBinary(), a, b, y.AsSpan(0, n));
            Check(n, y, i => a[i] - 5 * b[i] + tag, "binary");

            y = Guarded(n);
            Simd.Map(new TagTernary(), a, b, c, y.AsSpan(0, n));
            Check(n, y, i => a[i] * b[i] - c[i] + tag, "ternary");

            y = Guarded(n); y0.CopyTo(y, 0);
            Simd.MapAccumulate(new TagBinary(), a, b, y.AsSpan(0, n));
            Check(n, y, i => y0[i] + (a[i] - 5 * b[i] + tag), "accumulate binary");

            y = Guarded(n); y0.CopyTo(y, 0);
            Simd.MapAccumulate(new TagTernary(), a, b, c, y.AsSpan(0, n));
            Check(n, y, i => y0[i] + (a[i] * b[i] - c[i] + tag), "accumulate ternary");

            // in place: the output is the input
            y = Guarded(n); a.CopyTo(y, 0);
            Simd.Map(new TagUnary(), y.AsSpan(0, n), y.AsSpan(0, n));
            Check(n, y, i => 3 * a[i] + tag, "unary in place");
        }

        static float[] Guarded(int n) { var y = new float[n + 16]; y.AsSpan().Fill(Sentinel); return y; }

        void Check(int n, float[] y, Func<int, float> want, string what)
        {
            for (int i = 0; i < n; i++)
                Assert.True(Math.Abs(y[i] - want(i)) <= 1e-5f * (1 + Math.Abs(want(i))), $"{bits} bits, {what}, n {n}, element {i}: {y[i]} vs {want(i)}");
            for (int i = n; i < y.Length; i++) Assert.Equal(Sentinel, y[i]);
        }
    }

    /// <summary>Inputs across the activations' ranges: ordinary values, the branch points of the approximations,
    /// and values far enough out to clamp exp; an odd length, so every width has a tail.</summary>
    private static float[] ActivationInputs()
    {
        var special = new[] { 0f, -0f, 0.625f, -0.625f, 1.4142135f, -1.4142135f, 1f, -1f, 5f, -5f, 9f, -9f, 20f, -20f, 88f, -88f, 100f, -100f, 1e-20f, -1e-20f };
        return special.Concat(new Rng(11).Normal(new[] { 200 }, 0f, 3f).ToArray()).ToArray();
    }

    public static TheoryData<int, string> ActivationCases()
    {
        var d = new TheoryData<int, string>();
        foreach (int bits in new[] { 512, 256, 128 })
            foreach (var name in Activations.Keys) d.Add(bits, name);
        return d;
    }

    // Each kernel as (x, g) → output; the backward kernels take the forward's output where that is their input.
    private static readonly Dictionary<string, Action<float[], float[], float[]>> Activations = new()
    {
        ["silu"] = (x, _, y) => ActivationKernels.Silu(x, y),
        ["sigmoid"] = (x, _, y) => ActivationKernels.Sigmoid(x, y),
        ["tanh"] = (x, _, y) => ActivationKernels.Tanh(x, y),
        ["relu"] = (x, _, y) => ActivationKernels.Relu(x, y),
        ["leaky_relu"] = (x, _, y) => ActivationKernels.LeakyRelu(x, y, 0.2f),
        ["gelu"] = (x, _, y) => ActivationKernels.Gelu(x, y),
        ["gelu_tanh"] = (x, _, y) => ActivationKernels.GeluTanh(x, y),
        ["silu'"] = (x, g, y) => ActivationKernels.SiluBackward(x, g, y),
        ["sigmoid'"] = (x, g, y) => ActivationKernels.SigmoidBackward(x.Select(v => (float)(1 / (1 + Math.Exp(-v)))).ToArray(), g, y),
        ["tanh'"] = (x, g, y) => ActivationKernels.TanhBackward(x.Select(MathF.Tanh).ToArray(), g, y),
        ["leaky_relu'"] = (x, g, y) => ActivationKernels.LeakyReluBackward(x, g, y, 0.2f),
        ["gelu'"] = (x, g, y) => ActivationKernels.GeluBackward(x, g, y),
        ["gelu_tanh'"] = (x, g, y) => ActivationKernels.GeluTanhBackward(x, g, y),
    };

    [Theory]
    [MemberData(nameof(ActivationCases))]
    public void ActivationsMatchTheScalarReference(int bits, string name)
    {
        var x = ActivationInputs();
        var g = new Rng(12).Normal(new[] { x.Length }).ToArray();
        var kernel = Activations[name];
        var want = new float[x.Length];
        using (SimdWidths.Use(0)) kernel(x, g, want);
        var got = new float[x.Length];
        using (SimdWidths.Use(bits)) kernel(x, g, got);
        for (int i = 0; i < x.Length; i++)
        {
            // a few ulp apart (the vector exp against MathF.Exp); where exp clamps or underflows both are ≈ 0
            double tol = 4e-6 * Math.Abs(want[i]) + 1e-30;
            Assert.True(Math.Abs(got[i] - want[i]) <= tol, $"{name} at {bits} bits, x = {x[i]:R}: {got[i]:R} vs scalar {want[i]:R}");
        }
    }

    [Theory]
    [MemberData(nameof(SimdWidths.All), MemberType = typeof(SimdWidths))]
    public void BroadcastArithmeticIsExactAtEveryWidth(int bits)
    {
        // +, −, ×, ÷ are correctly rounded, so each width must give exactly a op b; the shapes take every row form
        // (both full, one a single value, both single values) with rows that leave each width a tail.
        using var _ = SimdWidths.Use(bits);
        var rng = new Rng(14);
        var cases = new (int[] a, int[] b)[]
        {
            (new[] { 3, 37 }, new[] { 3, 37 }), (new[] { 2, 3, 37 }, new[] { 37 }), (new[] { 2, 3, 1 }, new[] { 2, 1, 19 }),
            (new[] { 5, 1 }, new[] { 5, 1 }), (new[] { 33 }, new[] { 1 }), (new[] { 1 }, new[] { 4, 33 }),
        };
        foreach (var (sa, sb) in cases)
            foreach (var op in new[] { BinaryOp.Add, BinaryOp.Sub, BinaryOp.Mul, BinaryOp.Div })
            {
                var a = rng.Normal(sa); var b = rng.Uniform(sb, 0.5f, 2f);
                var os = ShapeUtil.Broadcast(sa, sb, "test");
                var y = new float[ShapeUtil.Numel(os)];
                Broadcast.Binary(op, a.ReadOnlySpan, sa, b.ReadOnlySpan, sb, y, os);
                Assert.Equal(Expected(op, a, b, os), y);
                // and the gradient's way back: summing over the broadcast dims
                var back = new float[b.Size];
                Broadcast.ReduceTo(y, os, back, sb);
                var sums = new double[b.Size];
                var bs = Broadcast.BroadcastStrides(sb, os);
                ForEachIndex(os, (i, idx) => sums[Offset(idx, bs)] += y[i]);
                for (int i = 0; i < back.Length; i++)
                    Assert.True(Math.Abs(back[i] - sums[i]) <= 1e-5 * (1 + Math.Abs(sums[i])), $"{op} reduce {i}: {back[i]} vs {sums[i]}");
            }

        static float[] Expected(BinaryOp op, Tensor a, Tensor b, int[] os)
        {
            var y = new float[ShapeUtil.Numel(os)];
            int[] astr = Broadcast.BroadcastStrides(a.Shape, os), bstr = Broadcast.BroadcastStrides(b.Shape, os);
            ForEachIndex(os, (i, idx) =>
            {
                float u = a.Span[Offset(idx, astr)], v = b.Span[Offset(idx, bstr)];
                y[i] = op switch { BinaryOp.Add => u + v, BinaryOp.Sub => u - v, BinaryOp.Mul => u * v, _ => u / v };
            });
            return y;
        }

        static int Offset(int[] idx, int[] strides) => idx.Zip(strides, (i, s) => i * s).Sum();

        static void ForEachIndex(int[] shape, Action<int, int[]> body)
        {
            var idx = new int[shape.Length];
            for (int i = 0; i < ShapeUtil.Numel(shape); i++)
            {
                body(i, idx);
                for (int d = shape.Length - 1; d >= 0 && ++idx[d] == shape[d]; d--) idx[d] = 0;
            }
        }
    }

    public static TheoryData<int, string> Float64Cases()
    {
        var d = new TheoryData<int, string>();
        foreach (int bits in SimdWidths.All)
            foreach (var name in ActivationTests.ActNames) d.Add(bits, name);
        return d;
    }

    [Theory]
    [MemberData(nameof(Float64Cases))]
    public void ActivationsMatchTheFloat64ReferenceAtEveryWidth(int bits, string name)
    {
        using var _ = SimdWidths.Use(bits);
        ActivationTests.MatchFloat64Reference(name, 1, 7, 16, 17, 33, 100);
    }

    [Theory]
    [MemberData(nameof(SimdWidths.All), MemberType = typeof(SimdWidths))]
    public void AdamWStepEqualsTheScalarReferenceBitForBit(int bits)
    {
        // The vector step does the scalar step's operations (multiply-adds fused as the CPU allows, a correctly
        // rounded sqrt and divide) in the same order, so every width gives the same bits; lengths cover every tail. The scalar step is held to the
        // update written out in double.
        var rng = new Rng(13);
        const float b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, decay = 0.999f, l2 = 0.01f, stepSize = 1e-2f;
        float bc2 = MathF.Sqrt(0.05f);
        var args = new AdamStepArgs(b1, b2, eps, decay, l2, stepSize, bc2);
        foreach (int n in Enumerable.Range(0, 2 * 16 + 2).Append(1000))
        {
            var p = rng.Normal(new[] { n }).ToArray();
            var g = rng.Normal(new[] { n }, 0f, 0.1f).ToArray();
            var m = rng.Normal(new[] { n }, 0f, 0.01f).ToArray();
            var v = rng.Uniform(new[] { n }, 0f, 1e-3f).ToArray();
            var (ps, ms, vs) = ((float[])p.Clone(), (float[])m.Clone(), (float[])v.Clone());
            using (SimdWidths.Use(0)) Kernels.Cpu.Adam.Step(ps, g, ms, vs, args);
            var (pw, mw, vw) = ((float[])p.Clone(), (float[])m.Clone(), (float[])v.Clone());
            using (SimdWidths.Use(bits)) Kernels.Cpu.Adam.Step(pw, g, mw, vw, args);
            Assert.Equal(ps, pw);
            Assert.Equal(ms, mw);
            Assert.Equal(vs, vw);
            for (int i = 0; i < n; i++)
            {
                double pd = p[i] * (double)decay, gd = g[i] + l2 * pd;
                double md = b1 * (double)m[i] + (1 - (double)b1) * gd, vd = b2 * (double)v[i] + (1 - (double)b2) * gd * gd;
                double want = pd - stepSize * md / (Math.Sqrt(vd) / bc2 + eps);
                Assert.True(Math.Abs(ps[i] - want) <= 1e-6 * (1 + Math.Abs(want)), $"n {n}, element {i}: {ps[i]} vs {want}");
            }
        }
    }
}
