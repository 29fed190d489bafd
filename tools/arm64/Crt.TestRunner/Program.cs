using System.Diagnostics;
using System.Reflection;
using Xunit;
using Xunit.Abstractions;

// Runs the engine's xunit tests in-process, one at a time, without the SDK's test host:
//   Crt.TestRunner [--filter SUBSTRING]... [--list] [--verbose]
// Supports what the engine tests use: [Fact], [Theory] with [InlineData] and [MemberData] (static
// properties, fields or methods of the test class), Skip, constructors taking ITestOutputHelper, IDisposable.
// Exit code 0 when every test passed.
var filters = new List<string>();
bool list = false, verbose = false;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--filter" && i + 1 < args.Length) filters.Add(args[++i]);
    else if (args[i] == "--list") list = true;
    else if (args[i] == "--verbose") verbose = true; // names each test as it starts (which one crashed the process)
    else { Console.Error.WriteLine($"unknown argument '{args[i]}'; usage: Crt.TestRunner [--filter SUBSTRING]... [--list] [--verbose]"); return 2; }
}

var assembly = typeof(Crt.Tensors.Tests.SimdWidths).Assembly;
Console.WriteLine($"{assembly.GetName().Name} on {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}, " +
    $"SIMD path {Crt.Tensors.Kernels.Cpu.SimdPath.Describe(Crt.Tensors.Kernels.Cpu.SimdPath.Bits)}");
int passed = 0, failed = 0, skipped = 0;
var total = Stopwatch.StartNew();
foreach (var type in assembly.GetTypes().Where(t => t.IsClass && !t.IsAbstract).OrderBy(t => t.FullName, StringComparer.Ordinal))
{
    foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static).OrderBy(m => m.MetadataToken))
    {
        var fact = method.GetCustomAttribute<FactAttribute>();
        if (fact is null) continue;
        string name = $"{type.FullName}.{method.Name}";
        if (filters.Count > 0 && !filters.Any(f => name.Contains(f, StringComparison.Ordinal))) continue;
        foreach (var (label, arguments) in Cases(type, method, fact is TheoryAttribute))
        {
            if (list) { Console.WriteLine(name + label); continue; }
            if (fact.Skip is not null) { skipped++; continue; }
            if (verbose) Console.WriteLine($"run  {name}{label}");
            var sw = Stopwatch.StartNew();
            try
            {
                Invoke(type, method, arguments);
                passed++;
                if (sw.Elapsed.TotalSeconds > 30) Console.WriteLine($"  slow {sw.Elapsed.TotalSeconds:F0} s  {name}{label}");
            }
            catch (Exception e)
            {
                failed++;
                var inner = e is TargetInvocationException { InnerException: { } ie } ? ie : e;
                Console.WriteLine($"FAIL {name}{label}: {inner.GetType().Name}: {inner.Message.Split('\n')[0]}");
            }
        }
    }
}
if (!list)
    Console.WriteLine($"{passed} passed, {failed} failed, {skipped} skipped in {total.Elapsed.TotalMinutes:F1} min");
return failed == 0 ? 0 : 1;

static IEnumerable<(string Label, object?[] Args)> Cases(Type type, MethodInfo method, bool theory)
{
    if (!theory) { yield return ("", Array.Empty<object?>()); yield break; }
    foreach (var inline in method.GetCustomAttributes<InlineDataAttribute>())
        foreach (var row in inline.GetData(method))
            yield return (Label(row), row);
    foreach (var member in method.GetCustomAttributes<MemberDataAttribute>())
    {
        var source = member.MemberType ?? type;
        const BindingFlags flags = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.FlattenHierarchy;
        object? data = source.GetProperty(member.MemberName, flags)?.GetValue(null)
            ?? source.GetField(member.MemberName, flags)?.GetValue(null)
            ?? source.GetMethod(member.MemberName, flags)?.Invoke(null, member.Parameters);
        if (data is not System.Collections.IEnumerable rows) throw new InvalidOperationException($"{type.Name}.{member.MemberName}: no member data");
        foreach (var row in rows)
        {
            var values = row as object?[] ?? new[] { row };
            yield return (Label(values), values);
        }
    }
}

static string Label(object?[] row) => "(" + string.Join(", ", row.Select(v => v?.ToString() ?? "null")) + ")";

static void Invoke(Type type, MethodInfo method, object?[] arguments)
{
    object? instance = null;
    if (!method.IsStatic)
    {
        var ctor = type.GetConstructors().OrderBy(c => c.GetParameters().Length).First();
        var ps = ctor.GetParameters();
        instance = ctor.Invoke(ps.Select(p => p.ParameterType == typeof(ITestOutputHelper) ? (object)new QuietOutput() : null).ToArray());
    }
    try
    {
        var pars = method.GetParameters();
        var converted = arguments.Select((a, i) => a is not null && pars[i].ParameterType != a.GetType() && a is IConvertible && !pars[i].ParameterType.IsEnum
            && pars[i].ParameterType.IsPrimitive ? Convert.ChangeType(a, pars[i].ParameterType) : a).ToArray();
        var result = method.Invoke(instance, converted);
        if (result is Task task) task.GetAwaiter().GetResult();
    }
    finally { (instance as IDisposable)?.Dispose(); }
}

sealed class QuietOutput : ITestOutputHelper
{
    public void WriteLine(string message) { }
    public void WriteLine(string format, params object[] args) { }
}
