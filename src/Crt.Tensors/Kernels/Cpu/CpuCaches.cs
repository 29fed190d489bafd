using System.Runtime.Intrinsics.X86;

namespace Crt.Tensors.Kernels.Cpu;

/// <summary>
/// The per-core data cache sizes the GEMM blocking is sized from: L1 data and L2, in bytes. x86 asks CPUID
/// (leaf 4 on Intel, 0x8000001D on AMD, the same "deterministic cache parameters" format; 0x80000005/6 on
/// older AMD); elsewhere Linux's sysfs (/sys/devices/system/cpu/cpu0/cache). Virtual machines often have no
/// sysfs cache folders but pass CPUID through, which is why x86 does not read sysfs first. Unknown sizes are
/// left null and the caller falls back to a common laptop core (32 KB L1d, 512 KB L2).
/// </summary>
internal static class CpuCaches
{
    public const int FallbackL1d = 32 << 10, FallbackL2 = 512 << 10;

    private static readonly Lazy<(int? L1d, int? L2)> s_detected = new(Detect);

    /// <summary>This machine's sizes (detected once), each null where it could not be read.</summary>
    public static (int? L1d, int? L2) Detected => s_detected.Value;

    private static (int? L1d, int? L2) Detect()
    {
        try
        {
            if (X86Base.IsSupported) return FromCpuid();
            return FromSysfs("/sys/devices/system/cpu/cpu0/cache");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            return (null, null);
        }
    }

    private static (int? L1d, int? L2) FromCpuid()
    {
        var (maxBasic, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        bool amd = ebx == 0x68747541 && edx == 0x69746E65 && ecx == 0x444D4163; // "AuthenticAMD"
        uint maxExt = (uint)X86Base.CpuId(unchecked((int)0x80000000), 0).Eax;
        // A leaf above the maximum returns another leaf's data, so leaf 4 is read only where it exists.
        if (!amd) return maxBasic >= 4 ? FromCacheLeaf(4) : (null, null);
        if (maxExt >= 0x8000001D)
        {
            var r = FromCacheLeaf(unchecked((int)0x8000001D));
            if (r.L1d is not null && r.L2 is not null) return r;
        }
        int? l1 = maxExt >= 0x80000005 ? (int)(((uint)X86Base.CpuId(unchecked((int)0x80000005), 0).Ecx >> 24) << 10) : null;
        int? l2 = maxExt >= 0x80000006 ? (int)(((uint)X86Base.CpuId(unchecked((int)0x80000006), 0).Ecx >> 16) << 10) : null;
        return (l1 > 0 ? l1 : null, l2 > 0 ? l2 : null);
    }

    /// <summary>Walks the subleaves of a deterministic-cache-parameters leaf (Intel 4, AMD 0x8000001D) until the null type.</summary>
    private static (int? L1d, int? L2) FromCacheLeaf(int leaf)
    {
        int? l1 = null, l2 = null;
        for (int sub = 0; sub < 16; sub++)
        {
            var (eax, ebx, ecx, _) = X86Base.CpuId(leaf, sub);
            var (level, type, size) = DecodeCacheLeaf((uint)eax, (uint)ebx, (uint)ecx);
            if (type == 0) break;
            if (level == 1 && type == 1) l1 = size;
            else if (level == 2 && type is 1 or 3) l2 = size;
        }
        return (l1, l2);
    }

    /// <summary>
    /// One subleaf of the deterministic cache parameters: level (EAX 7:5), type (EAX 4:0; 0 none, 1 data, 2
    /// instruction, 3 unified) and size = ways × partitions × line size × sets, each stored minus one.
    /// </summary>
    internal static (int Level, int Type, int Size) DecodeCacheLeaf(uint eax, uint ebx, uint ecx)
    {
        long ways = (ebx >> 22) + 1, partitions = ((ebx >> 12) & 0x3FF) + 1, line = (ebx & 0xFFF) + 1, sets = (long)ecx + 1;
        return ((int)((eax >> 5) & 7), (int)(eax & 0x1F), (int)Math.Min(int.MaxValue, ways * partitions * line * sets));
    }

    /// <summary>Reads indexN/{level,type,size} under a Linux sysfs cache folder ("48K", "1024K", "1M").</summary>
    internal static (int? L1d, int? L2) FromSysfs(string root)
    {
        int? l1 = null, l2 = null;
        if (!Directory.Exists(root)) return (null, null);
        foreach (var dir in Directory.GetDirectories(root, "index*"))
        {
            string Read(string f) => File.Exists(Path.Combine(dir, f)) ? File.ReadAllText(Path.Combine(dir, f)).Trim() : "";
            string level = Read("level"), type = Read("type"), size = Read("size");
            if (size.Length == 0) continue;
            int bytes = ParseSize(size);
            if (level == "1" && type == "Data") l1 = bytes;
            else if (level == "2" && type is "Data" or "Unified") l2 = bytes;
        }
        return (l1, l2);
    }

    internal static int ParseSize(string s)
    {
        s = s.Trim();
        long scale = s.EndsWith('K') ? 1 << 10 : s.EndsWith('M') ? 1 << 20 : s.EndsWith('G') ? 1 << 30 : 1;
        string digits = scale == 1 ? s : s[..^1];
        return (int)Math.Min(int.MaxValue, long.Parse(digits, System.Globalization.CultureInfo.InvariantCulture) * scale);
    }
}
