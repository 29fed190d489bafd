using Crt.Tensors.Kernels.Cpu;
using Xunit;

namespace Crt.Tensors.Tests;

/// <summary>Reading the cache sizes the GEMM blocking follows, from CPUID's cache leaves and from Linux's sysfs.</summary>
public class CpuCachesTests
{
    [Fact]
    public void CacheLeafDecodesSizeLevelAndType()
    {
        // Zen 5's L1d as CPUID 0x8000001D reports it: data (1), level 1, 12 ways, 1 partition, 64-byte lines, 64 sets.
        Assert.Equal((1, 1, 48 << 10), CpuCaches.DecodeCacheLeaf(0x21, (11u << 22) | 63, 63));
        // A unified 1 MB level-2 cache: 16 ways × 64-byte lines × 1024 sets.
        Assert.Equal((2, 3, 1 << 20), CpuCaches.DecodeCacheLeaf(0x43, (15u << 22) | 63, 1023));
    }

    [Fact]
    public void SysfsCacheFoldersAreRead()
    {
        string root = Path.Combine(Path.GetTempPath(), $"crt-caches-{Guid.NewGuid():N}");
        try
        {
            void Index(int i, string level, string type, string size)
            {
                string d = Path.Combine(root, $"index{i}");
                Directory.CreateDirectory(d);
                File.WriteAllText(Path.Combine(d, "level"), level + "\n");
                File.WriteAllText(Path.Combine(d, "type"), type + "\n");
                File.WriteAllText(Path.Combine(d, "size"), size + "\n");
            }
            Index(0, "1", "Data", "64K");
            Index(1, "1", "Instruction", "64K");
            Index(2, "2", "Unified", "2M");
            Index(3, "3", "Unified", "32768K");
            Assert.Equal(((int?)(64 << 10), (int?)(2 << 20)), CpuCaches.FromSysfs(root));
            Assert.Equal(((int?)null, (int?)null), CpuCaches.FromSysfs(Path.Combine(root, "absent")));
        }
        finally { if (Directory.Exists(root)) Directory.Delete(root, true); }
    }
}
