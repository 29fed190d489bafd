using Xunit;

namespace Crt.Tensors.Tests;

/// <summary>
/// Test classes that change a process-wide kernel setting (GEMM blocking and micro-kernel, the
/// per-thread split, Par.Threads, the im2col band size) run alone, never beside other classes. Such a
/// setting changes the summation order of every product computed meanwhile, and a finite-difference
/// check elsewhere whose L(x+ε) and L(x−ε) straddle the change then sees rounding noise of ~0.3 in a
/// gradient of ~10 (a CI run failed Conv2dSingleLargeImage so: analytic 8.96 vs numeric 9.15).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalKernelSettings
{
    public const string Name = "global kernel settings";
}
