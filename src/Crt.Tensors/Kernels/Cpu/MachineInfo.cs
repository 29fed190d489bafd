using System.Runtime.InteropServices;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// Names the machine a timing was made on, for every wall time the tools print or record. The model name alone
/// does not do it: virtual machines often report a bare "AMD EPYC" for Zen 3, 4 and 5 alike, whose kernels run at
/// different widths and speeds, so x86's family and model numbers go with it, and the SIMD width the kernels run at.
/// </summary>
public static class MachineInfo
{
    private static readonly Lazy<string> s_cpu = new(ReadCpu);

    /// <summary>The CPU: model name, x86 family and model where /proc/cpuinfo gives them, and the architecture.</summary>
    public static string Cpu => s_cpu.Value;

    /// <summary>One line: the CPU, its logical cores, the threads and SIMD width the kernels use now.</summary>
    public static string Describe() =>
        $"{Cpu}, {Environment.ProcessorCount} cores, kernels on {Par.Threads} thread{(Par.Threads == 1 ? "" : "s")} at {SimdPath.Describe(SimdPath.Bits)}";

    /// <summary>
    /// The CPU as <see cref="Cpu"/> words it, from the lines of a /proc/cpuinfo (the first processor's fields; ARM's
    /// file has no model name, which leaves the architecture alone).
    /// </summary>
    public static string FromCpuInfo(IEnumerable<string> lines, string architecture)
    {
        string? name = null, family = null, model = null;
        foreach (var line in lines)
        {
            if (line.Length == 0 && name is not null) break; // the blank line after the first processor
            int colon = line.IndexOf(':');
            if (colon <= 0) continue;
            string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
            if (key == "model name") name ??= value;
            else if (key == "cpu family") family ??= value;
            else if (key == "model") model ??= value;
        }
        if (name is null) return architecture;
        return family is not null && model is not null ? $"{name} ({architecture}, family {family} model {model})" : $"{name} ({architecture})";
    }

    private static string ReadCpu()
    {
        string arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        try
        {
            if (File.Exists("/proc/cpuinfo")) return FromCpuInfo(File.ReadLines("/proc/cpuinfo"), arch);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return arch;
    }
}
