using System.Text.Json;
using System.Text.Json.Nodes;
using Crt.Tensors.IO;

namespace Crt.Scaling;

/// <summary>
/// Reads one JSON object of a plan file with a fixed set of keys: an unknown key is rejected with the
/// list of valid ones, and every wrong type or value is one sentence naming the file and where in it.
/// </summary>
internal sealed class PlanReader
{
    private readonly JsonObject _obj;
    public string File { get; }
    public string Where { get; }

    public PlanReader(JsonNode? node, string file, string where, params string[] keys)
    {
        (File, Where) = (file, where);
        _obj = node as JsonObject ?? throw Error($"{where} must be a JSON object");
        foreach (var (k, _) in _obj)
            if (!keys.Contains(k))
                throw Error($"unknown key '{k}' in {where}; valid keys: {string.Join(", ", keys)}");
    }

    public static PlanReader Open(string path, params string[] keys)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(System.IO.File.ReadAllText(path), documentOptions: JsonText.Lenient); }
        catch (JsonException e) { throw new ArgumentException($"{path}: not valid JSON ({e.Message})"); }
        catch (IOException e) { throw new ArgumentException($"{path}: cannot read the sweep plan ({e.Message})"); }
        return new PlanReader(node, path, "the plan", keys);
    }

    public ArgumentException Error(string message) => new($"{File}: {message}");

    public bool Has(string key) => _obj.ContainsKey(key) && _obj[key] is not null;

    public JsonNode? Node(string key) => _obj[key];

    public PlanReader Child(string key, params string[] keys) => new(_obj[key] ?? new JsonObject(), File, Path(key), keys);

    public string Path(string key) => Where == "the plan" ? key : $"{Where}.{key}";

    public string? String(string key, string? fallback = null)
    {
        if (!Has(key)) return fallback;
        return _obj[key]!.GetValueKind() == JsonValueKind.String ? _obj[key]!.GetValue<string>() : throw WrongType(key, "a string");
    }

    public double Number(string key, double fallback)
    {
        if (!Has(key)) return fallback;
        return _obj[key]!.GetValueKind() == JsonValueKind.Number ? _obj[key]!.GetValue<double>() : throw WrongType(key, "a number");
    }

    public long Integer(string key, long fallback)
    {
        double d = Number(key, fallback);
        return d == Math.Floor(d) && Math.Abs(d) < 9e15 ? (long)d : throw WrongType(key, "an integer");
    }

    private ArgumentException WrongType(string key, string what) => Error($"{Path(key)} must be {what}, not {_obj[key]!.ToJsonString()}");

    public string[] Strings(string key, string[] fallback)
    {
        if (!Has(key)) return fallback;
        if (_obj[key] is not JsonArray a || a.Any(n => n is null || n.GetValueKind() != JsonValueKind.String))
            throw Error($"{Path(key)} must be an array of strings");
        return a.Select(n => n!.GetValue<string>()).ToArray();
    }

    /// <summary>An object of --set style overrides: dotted config keys to JSON values, returned as key=value strings.</summary>
    public List<string> Overrides(string key)
    {
        if (!Has(key)) return new List<string>();
        if (_obj[key] is not JsonObject o) throw Error($"{Path(key)} must be an object of config keys and values, e.g. {{\"crt.lambda_max\": 1}}");
        return o.Select(kv => $"{kv.Key}={kv.Value?.ToJsonString() ?? "null"}").ToList();
    }
}
