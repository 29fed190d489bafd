namespace Crt.Cli;

/// <summary>
/// The parsed options of one command: <c>--name value</c>, <c>--name=value</c>, repeatable <c>--set</c>,
/// and flags. Options a command does not declare are rejected with the list it accepts.
/// </summary>
public sealed class CommandLine
{
    private readonly Dictionary<string, List<string>> _values = new();
    private readonly HashSet<string> _flags = new();
    public List<string> Positional { get; } = new();

    public static CommandLine Parse(IEnumerable<string> args, IReadOnlyCollection<string> valueOptions, IReadOnlyCollection<string> flagOptions, string command)
    {
        var cl = new CommandLine();
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (!a.StartsWith("--", StringComparison.Ordinal)) { cl.Positional.Add(a); continue; }
            string name = a[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            if (flagOptions.Contains(name))
            {
                if (value is not null) throw new UsageException($"{command}: --{name} takes no value");
                cl._flags.Add(name);
            }
            else if (valueOptions.Contains(name))
            {
                if (value is null)
                {
                    if (i + 1 >= list.Count) throw new UsageException($"{command}: --{name} needs a value");
                    value = list[++i];
                }
                if (!cl._values.TryGetValue(name, out var vs)) cl._values[name] = vs = new List<string>();
                vs.Add(value);
            }
            else
            {
                var known = valueOptions.Select(o => "--" + o).Concat(flagOptions.Select(o => "--" + o)).OrderBy(o => o);
                throw new UsageException($"{command}: unknown option --{name}; valid options: {string.Join(", ", known)}");
            }
        }
        return cl;
    }

    public bool Flag(string name) => _flags.Contains(name);

    public string? Value(string name) => _values.TryGetValue(name, out var v) ? v[^1] : null;

    public IReadOnlyList<string> Values(string name) => _values.TryGetValue(name, out var v) ? v : Array.Empty<string>();

    public float Float(string name, float fallback)
    {
        var v = Value(name);
        if (v is null) return fallback;
        return float.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var f)
            ? f : throw new UsageException($"--{name} {v}: not a number");
    }

    /// <summary>The device --device names (the CPU when absent); a device this machine lacks is one sentence, exit code 1.</summary>
    public Tensors.Device Device()
    {
        var name = Value("device");
        if (name is null) return Tensors.Device.Cpu;
        return Tensors.Device.Parse(name); // an ArgumentException: Program prints its one sentence
    }

    public long? Long(string name)
    {
        var v = Value(name);
        if (v is null) return null;
        return long.TryParse(v, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var x)
            ? x : throw new UsageException($"--{name} {v}: not an integer");
    }
}

/// <summary>A mistake in how a command was called: printed with a pointer to --help, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
