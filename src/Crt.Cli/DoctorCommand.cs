using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Crt.Data;
using Crt.Diagnostics;
using Crt.Tensors.Backends;
using Crt.Tensors.Cuda;
using Crt.Tensors.Kernels.Cpu;

namespace Crt.Cli;

/// <summary>`crt doctor`: what this machine gives crt (CPU, SIMD width, threads, image decoding, GPUs) and a short self-check.</summary>
public static class DoctorCommand
{
    private const string Help = """
        usage: crt doctor [--no-speed] [--device D]

        Says what crt finds on this machine — the CPU and the SIMD width its kernels use, the threads, whether image
        files can be decoded, and the GPUs the CUDA driver reports — then checks the kernels (GEMM at every SIMD width
        against float64, a convolution's gradient against finite differences, two training steps reproduced bit for
        bit) and measures the GEMM against this machine's FMA peak. A few seconds; exit code 1 if a check fails.
        Paste its output into a bug report.

          --no-speed    skip the speed measurement (about 3 seconds)
          --device D    also run every op forward and backward on device D (cuda, cuda:N, or ilgpu-cpu: the GPU
                        kernels on the CPU) and compare with the CPU; the default is cuda:0 when a GPU is found
        """;

    public static int Run(string[] args)
    {
        if (args is ["--help"] or ["-h"]) { Console.WriteLine(Help); return 0; }
        var cl = CommandLine.Parse(args, new[] { "device" }, new[] { "no-speed" }, "doctor");
        if (cl.Positional.Count > 0) throw new UsageException($"doctor: unexpected argument '{cl.Positional[0]}'");

        var version = typeof(DoctorCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?";
        Console.WriteLine($"crt {version.Split('+')[0]} on {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.RuntimeIdentifier}");
        Console.WriteLine($"CPU:     {MachineInfo.Cpu}, {Environment.ProcessorCount} logical cores; the kernels use {Par.Threads} thread(s){(Environment.GetEnvironmentVariable("CRT_THREADS") is { } t ? $" (CRT_THREADS={t})" : "")}");
        Console.WriteLine($"SIMD:    {InstructionSets()}; kernels at {SimdPath.Describe(SimdPath.Bits)}"
            + (SimdPath.Bits != SimdPath.Native ? $" (CRT_SIMD; the CPU's own: {SimdPath.Describe(SimdPath.Native)})" : ""));
        Console.WriteLine($"Caches:  {Gemm.DescribeBlocking()}");
        Console.WriteLine($"Images:  {(SkiaLibrary.Available ? "PNG, JPEG, WebP, BMP and GIF files can be read (SkiaSharp's native library loads)" : "image files cannot be read: SkiaSharp's native library does not load (the built-in datasets still work)")}");
        var gpu = CudaDriverProbe.Probe();
        if (gpu.Devices.Count == 0)
            Console.WriteLine($"GPU:     none usable: {gpu.Problem}");
        else
        {
            Console.WriteLine($"GPU:     CUDA driver {gpu.DriverCudaVersion} ({gpu.Library}), {gpu.Devices.Count} device(s):");
            foreach (var d in gpu.Devices)
                Console.WriteLine($"         cuda:{d.Ordinal}  {d.Name}, {d.MemoryBytes / (double)(1L << 30):F1} GiB, compute capability {d.ComputeMajor}.{d.ComputeMinor}");
            Console.WriteLine(CudaDriverProbe.Cublas() is { } blas ? $"         cuBLAS {blas.Version} ({blas.Library})" : "         cuBLAS: not found (libcublas.so.13 or .12)");
        }

        Console.WriteLine("Checks:");
        int failed = 0;
        string? deviceName = cl.Value("device") ?? (gpu.Devices.Count > 0 ? "cuda:0" : null);
        if (deviceName is null)
            Console.WriteLine("  (no GPU: the GPU kernels can be checked on this CPU with --device ilgpu-cpu, slowly)");
        else failed += DeviceParity(deviceName);
        foreach (var r in SelfCheck.Run())
        {
            Console.WriteLine($"  {(r.Passed ? "ok    " : "FAILED")}  {r.Name}: {r.Detail}");
            if (!r.Passed) failed++;
        }
        if (!cl.Flag("no-speed"))
        {
            var (peak, gemm) = SelfCheck.Speed();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Speed:   FMA peak {peak:F0} GFLOP/s at {SimdPath.Describe(SimdPath.Bits)} on {Par.Threads} thread(s); sgemm 1024³ {gemm:F0} GFLOP/s, {100 * gemm / peak:F0}% of it (other load on the machine lowers both)"));
        }
        Console.WriteLine(failed == 0 ? "All checks passed." : $"{failed} check(s) FAILED: please report this output.");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>Every op of <see cref="BackendParity"/> on the device against the CPU; returns the number of failed checks (0 or 1).</summary>
    private static int DeviceParity(string name)
    {
        Tensors.Device device;
        try { device = Tensors.Device.Parse(name); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or DllNotFoundException or TypeInitializationException)
        {
            Console.WriteLine($"  FAILED  device {name}: {e.Message}{(e.InnerException is { } inner ? $" ({inner.GetType().Name}: {inner.Message})" : "")}");
            return 1;
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var results = BackendParity.Cases.Select(c => BackendParity.Check(device, c)).ToList();
        var bad = results.Where(r => !r.Passed).ToList();
        var worst = results.Where(r => r.Passed).OrderByDescending(r => Math.Max(r.ForwardError, r.GradientError / 5) / r.Tolerance).FirstOrDefault();
        string closest = worst is null ? "" : FormattableString.Invariant(
            $" (closest to its tolerance: {worst.Op}, relative error {Math.Max(worst.ForwardError, worst.GradientError):G2})");
        Console.WriteLine(FormattableString.Invariant(
            $"  {(bad.Count == 0 ? "ok    " : "FAILED")}  {name}: {results.Count - bad.Count} of {results.Count} ops match the CPU forward and backward{closest}, {clock.Elapsed.TotalSeconds:F1} s"));
        foreach (var r in bad)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"          {r.Op}: {r.Problem ?? $"relative error forward {r.ForwardError:G3}, gradient {r.GradientError:G3} (tolerance {r.Tolerance:G2})"}"));
        return bad.Count == 0 ? 0 : 1;
    }

    private static string InstructionSets()
    {
        var sets = new List<string>();
        if (Avx512F.IsSupported) sets.Add("AVX-512");
        if (Avx2.IsSupported) sets.Add("AVX2");
        if (Fma.IsSupported) sets.Add("FMA");
        if (AdvSimd.IsSupported) sets.Add("AdvSimd (NEON)");
        if (sets.Count == 0 && Sse2.IsSupported) sets.Add("SSE2");
        return sets.Count == 0 ? "no SIMD the kernels use" : string.Join(", ", sets);
    }
}
