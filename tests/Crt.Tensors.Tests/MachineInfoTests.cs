using Crt.Tensors.Kernels.Cpu;
using Xunit;

namespace Crt.Tensors.Tests;

/// <summary>Naming the machine a timing was made on, from /proc/cpuinfo as x86 and ARM64 Linux write it.</summary>
[Collection(GlobalKernelSettings.Name)] // switches the process's SIMD width
public class MachineInfoTests
{
    [Fact]
    public void X86NamesTheModelWithFamilyAndModelFromTheFirstProcessor()
    {
        var lines = new[]
        {
            "processor\t: 0", "vendor_id\t: AuthenticAMD", "cpu family\t: 25", "model\t\t: 1", "model name\t: AMD EPYC", "flags\t\t: fpu avx2 fma", "",
            "processor\t: 1", "vendor_id\t: AuthenticAMD", "cpu family\t: 26", "model\t\t: 2", "model name\t: Another", "",
        };
        Assert.Equal("AMD EPYC (x64, family 25 model 1)", MachineInfo.FromCpuInfo(lines, "x64"));
    }

    [Fact]
    public void WithoutAModelNameTheArchitectureIsAllThatIsSaid()
    {
        var arm = new[] { "processor\t: 0", "BogoMIPS\t: 50.00", "Features\t: fp asimd", "CPU implementer\t: 0x41", "CPU part\t: 0xd0c", "" };
        Assert.Equal("arm64", MachineInfo.FromCpuInfo(arm, "arm64"));
        Assert.Equal("Some CPU (x64)", MachineInfo.FromCpuInfo(new[] { "model name : Some CPU" }, "x64"));
    }

    [Fact]
    public void TheDescriptionNamesTheKernelsSimdWidthAsSetNow()
    {
        using (SimdWidths.Use(128))
        {
            Assert.Contains(SimdPath.Describe(128), MachineInfo.Describe());
            Assert.StartsWith(MachineInfo.Cpu + ", ", MachineInfo.Describe());
        }
    }
}
