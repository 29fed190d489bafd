using Crt.Cli;
using Crt.Tensors.Cuda;
using Xunit;

namespace Crt.Tests;

/// <summary>
/// Runs alone (no other test class beside it): the self-check switches the process-wide SIMD width, which would
/// change the summation order of anything computed meanwhile (a bit-exact resume test, a finite difference), and
/// it captures the console.
/// </summary>
[Collection(Name)]
public sealed class DoctorTests
{
    public const string Name = "doctor: process-wide kernel settings and the console";

    [Fact]
    public void DoctorDescribesTheMachineAndItsChecksPass()
    {
        var output = new StringWriter();
        var old = Console.Out;
        Console.SetOut(output);
        int code;
        try { code = Program.Main(["doctor", "--no-speed"]); }
        finally { Console.SetOut(old); }
        string text = output.ToString();

        Assert.Equal(0, code);
        Assert.Contains("CPU:", text);
        Assert.Contains("kernels at", text);
        Assert.Contains("GPU:", text);
        Assert.Contains("sgemm 67×83×129, scalar", text); // every width up to the CPU's own, the scalar reference included
        Assert.Contains("conv2d backward vs finite differences", text);
        Assert.DoesNotContain("FAILED", text);
        Assert.DoesNotContain("Speed:", text);
        Assert.EndsWith("All checks passed.", text.TrimEnd());
    }

    [Fact]
    public void WithoutADriverTheProbeSaysWhyInsteadOfThrowing()
    {
        var probe = CudaDriverProbe.Probe();
        // CI machines have no GPU; where one has, the probe must list it instead.
        if (probe.Devices.Count == 0) Assert.False(string.IsNullOrWhiteSpace(probe.Problem));
        else Assert.All(probe.Devices, d => Assert.True(d.MemoryBytes > 0 && d.ComputeMajor > 0));
    }
}

[CollectionDefinition(DoctorTests.Name, DisableParallelization = true)]
public sealed class DoctorCollection;
