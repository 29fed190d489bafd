using System.Diagnostics;
using Crt.Generator;
using Crt.Tensors;
using Crt.Tensors.Kernels.Cpu;
using Crt.Tensors.Optim;

namespace Crt.Diagnostics;

/// <summary>One self-check: its name, whether it passed, and what it measured.</summary>
public sealed record CheckResult(string Name, bool Passed, string Detail);

/// <summary>
/// `crt doctor`'s checks, a few seconds in all: are this machine's kernels right (GEMM at every SIMD width
/// against a float64 reference, a convolution's gradient against finite differences), is training
/// reproducible (two GPT steps from one seed, bit for bit), and how fast is the GEMM against the FMA peak
/// measured here. The tests run the engine far more thoroughly; this is for a user's own machine.
/// </summary>
public static class SelfCheck
{
    public static IEnumerable<CheckResult> Run()
    {
        foreach (int bits in new[] { 512, 256, 128, 0 }.Where(b => b <= SimdPath.Native))
            yield return GemmAgainstReference(bits);
        yield return ConvGradient();
        yield return TrainingIsReproducible();
    }

    /// <summary>
    /// A GEMM of odd sizes (every edge case of the blocking) at one width, against float64. It switches the
    /// process-wide width for the call: run it when nothing else computes.
    /// </summary>
    public static CheckResult GemmAgainstReference(int bits)
    {
        const int m = 67, n = 83, k = 129;
        var rng = new Rng(7);
        var a = rng.Normal([m, k]).ToArray();
        var b = rng.Normal([k, n]).ToArray();
        var c = new float[m * n];
        int before = SimdPath.Bits;
        try
        {
            SimdPath.Set(bits);
            Gemm.Sgemm(false, false, m, n, k, 1f, a, k, b, n, 0f, c, n);
        }
        finally { SimdPath.Set(before); }
        double worst = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0, mag = 0;
                for (int p = 0; p < k; p++) { s += (double)a[i * k + p] * b[p * n + j]; mag += Math.Abs((double)a[i * k + p] * b[p * n + j]); }
                worst = Math.Max(worst, Math.Abs(c[i * n + j] - s) / Math.Max(mag, 1e-30));
            }
        // float32 accumulation over k terms: errors of a few ulps times √k relative to Σ|terms| are expected.
        bool ok = worst < 1e-5;
        return new($"sgemm {m}×{n}×{k}, {SimdPath.Describe(bits)}", ok, $"largest error {worst:G2} of Σ|a·b| (limit 1e-5)");
    }

    /// <summary>Conv2d's backward (input and weight gradients) against central differences of its forward.</summary>
    public static CheckResult ConvGradient()
    {
        var rng = new Rng(11);
        var x = rng.Normal([2, 3, 6, 5]); x.RequiresGrad = true;
        var w = rng.Normal([4, 3, 3, 3]); w.RequiresGrad = true;
        var probe = rng.Normal([2, 4, 3, 3]).ToArray();
        Tensor Forward() => Ops.Conv2d(x, w, null, stride: 2, padding: 1);
        Forward().Backward(Tensor.FromArray(probe, 2, 4, 3, 3));

        double Loss()
        {
            using var _ = Tensor.NoGrad();
            var y = Forward().ToArray();
            double s = 0;
            for (int i = 0; i < y.Length; i++) s += (double)probe[i] * y[i];
            return s;
        }

        double worst = 0;
        foreach (var t in new[] { x, w })
        {
            var analytic = t.Grad!.ToArray();
            var data = t.Span;
            for (int i = 0; i < data.Length; i += 7)
            {
                float orig = data[i];
                const float eps = 1e-2f;
                data[i] = orig + eps; double up = Loss();
                data[i] = orig - eps; double down = Loss();
                data[i] = orig;
                double numeric = (up - down) / (2 * eps);
                worst = Math.Max(worst, Math.Abs(analytic[i] - numeric) / Math.Max(1, Math.Abs(numeric)));
            }
        }
        return new("conv2d backward vs finite differences", worst < 1e-2, $"largest error {worst:G2} (limit 1e-2)");
    }

    /// <summary>Two AdamW steps of a small GPT (dropouts on), twice from the same seed: every weight must agree bit for bit.</summary>
    public static CheckResult TrainingIsReproducible()
    {
        var watch = Stopwatch.StartNew();
        uint[] first = TrainTwoSteps(), second = TrainTwoSteps();
        int differing = first.Zip(second).Count(p => p.First != p.Second);
        return new("gpt-t1 training, twice from one seed", differing == 0,
            differing == 0 ? $"{first.Length:N0} weights identical after two AdamW steps ({watch.Elapsed.TotalSeconds:F1} s)"
                           : $"{differing:N0} of {first.Length:N0} weights differ");
    }

    private static uint[] TrainTwoSteps()
    {
        var rng = new Rng(3);
        var config = GptConfig.Preset("gpt-t1") with { VocabSize = 64, NumClasses = 4, BlockSize = 16 };
        var gpt = new Gpt(config, rng);
        var optimizer = new AdamW(gpt.NamedParameters(), lr: 1e-3, weightDecay: 0.05);
        const int batch = 4;
        for (int step = 0; step < 2; step++)
        {
            var classes = Enumerable.Range(0, batch).Select(_ => rng.NextInt(config.NumClasses)).ToArray();
            var grids = Enumerable.Range(0, batch * config.BlockSize).Select(_ => rng.NextInt(config.VocabSize)).ToArray();
            optimizer.ZeroGrad();
            gpt.Loss(classes, grids, batch).Backward();
            optimizer.Step();
        }
        return gpt.Parameters().SelectMany(p => p.ToArray()).Select(BitConverter.SingleToUInt32Bits).ToArray();
    }

    /// <summary>The FMA peak (GFLOP/s) and a 1024³ SGEMM's speed, best of a few runs, at the width in force.</summary>
    public static (double PeakGflops, double GemmGflops) Speed()
    {
        double peak = FmaPeak.Measure(seconds: 1.0);
        const int size = 1024;
        var rng = new Rng(5);
        var a = rng.Normal([size, size]).ToArray();
        var b = rng.Normal([size, size]).ToArray();
        var c = new float[size * size];
        double best = 0;
        var total = Stopwatch.StartNew();
        do
        {
            long start = Stopwatch.GetTimestamp();
            Gemm.Sgemm(false, false, size, size, size, 1f, a, size, b, size, 0f, c, size);
            best = Math.Max(best, 2.0 * size * size * size / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9);
        } while (total.Elapsed.TotalSeconds < 1.5);
        return (peak, best);
    }
}
