using System.Globalization;
using System.Reflection;
using Crt.Bench;
using Crt.Tensors;

// Usage: Crt.Bench list | Crt.Bench NAME [--seconds S] [--device D] [--batch-scale N] [--precision fp32|tf32] | Crt.Bench crt ARGS
//        | Crt.Bench fraction NAME [--rounds N] [--seconds S] (NAME's GFLOP/s over fma-peak's, the two timed in turns)
// Prints one JSON line per workload: {"workload":..., "ms":[per-iteration times...]}
var workloads = Assembly.GetExecutingAssembly().GetTypes()
    .Where(t => typeof(IWorkload).IsAssignableFrom(t) && !t.IsAbstract && !t.IsInterface)
    .SelectMany(t => t.GetMethod("All", BindingFlags.Public | BindingFlags.Static) is { } all
        ? (IEnumerable<IWorkload>)all.Invoke(null, null)!
        : new[] { (IWorkload)Activator.CreateInstance(t)! })
    .ToDictionary(w => w.Name);

if (args.Length > 0 && args[0] == "crt") return Crt.Cli.Program.Main(args[1..]);
if (args.Length > 0 && args[0] == "simd")
{
    Console.WriteLine(Crt.Tensors.Kernels.Cpu.SimdPath.Describe(Crt.Tensors.Kernels.Cpu.SimdPath.Bits));
    return 0;
}
if (args.Length == 0 || args[0] == "list")
{
    foreach (var n in workloads.Keys.Order()) Console.WriteLine(n);
    return 0;
}
double seconds = 1.0;
for (int i = 1; i < args.Length; i++)
{
    if (args[i] == "--seconds") seconds = double.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--device") BenchDevice.Current = Device.Parse(args[++i]);
    else if (args[i] == "--batch-scale") BenchDevice.BatchScale = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--precision") BenchDevice.Current.Precision = Enum.Parse<Crt.Tensors.Backends.MatmulPrecision>(args[++i], ignoreCase: true);
}
if (args[0] == "fraction")
{
    // Crt.Bench fraction WORKLOAD [--rounds N] [--seconds S]: the workload's share of the FMA peak, measured in turns (PeakFraction).
    int rounds = 8;
    for (int i = 2; i < args.Length; i++)
        if (args[i] == "--rounds") rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
    if (args.Length < 2 || !workloads.TryGetValue(args[1], out var measured))
    {
        Console.Error.WriteLine($"usage: Crt.Bench fraction WORKLOAD [--rounds N] [--seconds S]; workloads: {string.Join(", ", workloads.Keys.Order())}");
        return 2;
    }
    return PeakFraction.Run(measured, rounds, seconds);
}
if (!workloads.TryGetValue(args[0], out var w))
{
    Console.Error.WriteLine($"unknown workload '{args[0]}'; known: {string.Join(", ", workloads.Keys.Order())}");
    return 2;
}
w.Setup();
Timing.Warm(w, seconds);
var times = Timing.Times(w, seconds);
Console.WriteLine($"{{\"workload\":\"{w.Name}\",\"device\":\"{BenchDevice.Current.Name}\",\"batch_scale\":{BenchDevice.BatchScale},\"flops\":{w.Flops.ToString(CultureInfo.InvariantCulture)},\"ms\":[{string.Join(",", times.Select(t => t.ToString("F4", CultureInfo.InvariantCulture)))}]}}");
return 0;
