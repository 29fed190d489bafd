using System.Text.Json.Nodes;

namespace Crt.Scaling;

/// <summary>
/// The first setting in which a run's recorded config differs from what the plan now asks for: a sweep
/// must not silently continue a run made under other settings, and the message says which one.
/// </summary>
internal static class ConfigDiff
{
    public static string? First(string recordedJson, string wantedJson)
    {
        var a = Flatten(JsonNode.Parse(recordedJson), "");
        var b = Flatten(JsonNode.Parse(wantedJson), "");
        foreach (var key in a.Keys.Union(b.Keys).OrderBy(k => k, StringComparer.Ordinal))
        {
            a.TryGetValue(key, out var x); b.TryGetValue(key, out var y);
            if (x != y) return $"{key} = {x ?? "(absent)"} in the run, {y ?? "(absent)"} in the plan";
        }
        return null;
    }

    private static Dictionary<string, string> Flatten(JsonNode? node, string prefix)
    {
        var result = new Dictionary<string, string>();
        if (node is JsonObject o)
            foreach (var (k, v) in o)
                foreach (var kv in Flatten(v, prefix.Length == 0 ? k : $"{prefix}.{k}")) result[kv.Key] = kv.Value;
        else result[prefix] = node?.ToJsonString() ?? "null";
        return result;
    }
}
