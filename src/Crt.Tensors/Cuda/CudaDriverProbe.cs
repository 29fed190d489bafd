using System.Runtime.InteropServices;

namespace Crt.Tensors.Cuda;

/// <summary>One GPU as the CUDA driver reports it.</summary>
public sealed record CudaDeviceInfo(int Ordinal, string Name, long MemoryBytes, int ComputeMajor, int ComputeMinor);

/// <summary>What <see cref="CudaDriverProbe.Probe"/> found: the driver (if any), its version and its GPUs, or why there are none.</summary>
public sealed record CudaProbeResult(string? Library, int DriverVersion, IReadOnlyList<CudaDeviceInfo> Devices, string? Problem)
{
    /// <summary>The driver's CUDA version as "13.0" (cuDriverGetVersion gives 1000·major + 10·minor).</summary>
    public string DriverCudaVersion => $"{DriverVersion / 1000}.{DriverVersion % 1000 / 10}";
}

/// <summary>
/// Asks the CUDA driver API (libcuda, which the NVIDIA driver installs; no toolkit needed) which GPUs this machine
/// has. Loaded at run time with <see cref="NativeLibrary"/>: a machine without the driver gets a result that says
/// so, never an exception. Only the driver's query functions are called; nothing is allocated on a GPU.
/// </summary>
public static unsafe class CudaDriverProbe
{
    private static readonly string[] LibraryNames = OperatingSystem.IsWindows() ? ["nvcuda.dll"] : ["libcuda.so.1", "libcuda.so"];

    public static CudaProbeResult Probe()
    {
        IntPtr lib = IntPtr.Zero;
        string? loaded = null;
        foreach (var name in LibraryNames)
            if (NativeLibrary.TryLoad(name, out lib)) { loaded = name; break; }
        if (loaded is null)
            return new(null, 0, [], $"no CUDA driver ({string.Join(" or ", LibraryNames)} cannot be loaded)");

        try
        {
            var cuInit = (delegate* unmanaged<uint, int>)Export(lib, "cuInit");
            var cuDriverGetVersion = (delegate* unmanaged<int*, int>)Export(lib, "cuDriverGetVersion");
            var cuDeviceGetCount = (delegate* unmanaged<int*, int>)Export(lib, "cuDeviceGetCount");
            var cuDeviceGet = (delegate* unmanaged<int*, int, int>)Export(lib, "cuDeviceGet");
            var cuDeviceGetName = (delegate* unmanaged<byte*, int, int, int>)Export(lib, "cuDeviceGetName");
            var cuDeviceTotalMem = (delegate* unmanaged<nuint*, int, int>)Export(lib, "cuDeviceTotalMem_v2");
            var cuDeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)Export(lib, "cuDeviceGetAttribute");

            int version = 0;
            Check(cuDriverGetVersion(&version), "cuDriverGetVersion");
            int status = cuInit(0);
            if (status != 0) // e.g. 100, CUDA_ERROR_NO_DEVICE: a driver without a usable GPU
                return new(loaded, version, [], $"the CUDA driver finds no usable GPU (cuInit returned error {status})");
            int count = 0;
            Check(cuDeviceGetCount(&count), "cuDeviceGetCount");
            var devices = new List<CudaDeviceInfo>();
            byte* name = stackalloc byte[256];
            for (int i = 0; i < count; i++)
            {
                int dev;
                Check(cuDeviceGet(&dev, i), "cuDeviceGet");
                Check(cuDeviceGetName(name, 256, dev), "cuDeviceGetName");
                nuint bytes;
                Check(cuDeviceTotalMem(&bytes, dev), "cuDeviceTotalMem");
                int major, minor;
                Check(cuDeviceGetAttribute(&major, 75, dev), "cuDeviceGetAttribute"); // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
                Check(cuDeviceGetAttribute(&minor, 76, dev), "cuDeviceGetAttribute"); // …_MINOR
                devices.Add(new(i, Marshal.PtrToStringUTF8((IntPtr)name) ?? "?", (long)bytes, major, minor));
            }
            return new(loaded, version, devices, count == 0 ? "the CUDA driver reports no GPU" : null);
        }
        catch (CudaProbeException e)
        {
            return new(loaded, 0, [], e.Message);
        }
        // The library stays loaded: the driver is not meant to be unloaded and reloaded within a process.
    }

    private static readonly string[] CublasNames = OperatingSystem.IsWindows()
        ? ["cublas64_13.dll", "cublas64_12.dll"] : ["libcublas.so.13", "libcublas.so.12", "libcublas.so"];

    /// <summary>The cuBLAS library the loader finds and its version ("13.0.2"), or null when there is none.</summary>
    public static (string Library, string Version)? Cublas()
    {
        foreach (var name in CublasNames)
        {
            if (!NativeLibrary.TryLoad(name, out var lib)) continue;
            if (!NativeLibrary.TryGetExport(lib, "cublasGetProperty", out var f)) return (name, "?");
            var getProperty = (delegate* unmanaged<int, int*, int>)f; // libraryPropertyType: 0 major, 1 minor, 2 patch
            int major = 0, minor = 0, patch = 0;
            bool ok = getProperty(0, &major) == 0 && getProperty(1, &minor) == 0 && getProperty(2, &patch) == 0;
            return (name, ok ? $"{major}.{minor}.{patch}" : "?");
        }
        return null;
    }

    private static IntPtr Export(IntPtr lib, string name) =>
        NativeLibrary.TryGetExport(lib, name, out var f) ? f : throw new CudaProbeException($"the CUDA driver library has no {name} (too old a driver?)");

    private static void Check(int status, string call)
    {
        if (status != 0) throw new CudaProbeException($"{call} failed with CUDA error {status}");
    }

    private sealed class CudaProbeException(string message) : Exception(message);
}
