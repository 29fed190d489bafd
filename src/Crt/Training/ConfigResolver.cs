using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Crt.Tensors.IO;

namespace Crt.Training;

/// <summary>
/// Resolves a run's configuration: the defaults (a preset), then a config file's keys, then
/// <c>--set key=value</c> overrides, each a dotted path into the config (<c>crt.lambda_max=4</c>).
/// Unknown keys are rejected with the list of valid ones; the result is validated by deserialising.
/// </summary>
public static class ConfigResolver
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static T Resolve<T>(T defaults, string? configFile, IEnumerable<string> sets)
    {
        var node = JsonSerializer.SerializeToNode(defaults, Json)!.AsObject();
        var origin = new Dictionary<string, string>(); // key → the file or "--set" that gave it, for type errors
        if (configFile is not null)
        {
            JsonNode? file;
            try { file = JsonText.Parse(File.ReadAllText(configFile)); }
            catch (JsonException e) { throw new ArgumentException($"{configFile}: not valid JSON ({e.Message})"); }
            catch (IOException e) { throw new ArgumentException($"{configFile}: cannot read the config file ({e.Message})"); }
            if (file is not JsonObject obj) throw new ArgumentException($"{configFile}: a config file must hold one JSON object");
            foreach (var (key, value) in Flatten(obj, ""))
            {
                Set(node, key, value?.DeepClone(), configFile);
                origin[key] = configFile;
            }
        }
        foreach (var s in sets)
        {
            int eq = s.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--set {s}: expected key=value");
            Set(node, s[..eq].Trim(), ParseValue(s[(eq + 1)..]), "--set");
            origin[s[..eq].Trim()] = "--set";
        }
        try { return node.Deserialize<T>(Json) ?? throw new ArgumentException("config resolved to nothing"); }
        catch (JsonException e)
        {
            // e.Path is "$.crt.lambda_max" (or "$.model.channel_multipliers[1]"): name the key and where it came from.
            string key = (e.Path ?? "$").TrimStart('$', '.').Split('[')[0];
            string source = origin.TryGetValue(key, out var o) ? o : "config";
            throw new ArgumentException($"{source}: '{key}' has the wrong type ({e.Message})");
        }
    }

    /// <summary>
    /// The defaults a run starts from: the preset the command line names, else the config file's "preset", else
    /// <paramref name="fallback"/>. An unknown preset that the file names is reported with the file's name.
    /// </summary>
    public static T Defaults<T>(string? preset, string? configFile, string fallback, Func<string, T> forPreset)
    {
        if (preset is not null) return forPreset(preset);
        if (PresetOf(configFile) is not { } fromFile) return forPreset(fallback);
        try { return forPreset(fromFile); }
        catch (ArgumentException e) { throw new ArgumentException($"{configFile}: {e.Message}", e); }
    }

    /// <summary>The "preset" a config file names, if any (it picks the defaults the file's other keys override).</summary>
    public static string? PresetOf(string? configFile)
    {
        if (configFile is null) return null;
        try { return JsonText.Parse(File.ReadAllText(configFile))?["preset"]?.GetValue<string>(); }
        catch (Exception e) when (e is JsonException or IOException or InvalidOperationException)
        {
            throw new ArgumentException($"{configFile}: cannot read the config file ({e.Message})");
        }
    }

    /// <summary>The config as indented JSON (what a run directory records as config.json).</summary>
    public static string ToJson<T>(T config) => JsonSerializer.Serialize(config, Json);

    /// <summary>Every settable dotted key of a config, for error messages and help.</summary>
    public static IEnumerable<string> Keys<T>(T config) =>
        Flatten(JsonSerializer.SerializeToNode(config, Json)!.AsObject(), "").Select(kv => kv.Key);

    private static IEnumerable<KeyValuePair<string, JsonNode?>> Flatten(JsonObject obj, string prefix)
    {
        foreach (var (k, v) in obj)
        {
            string key = prefix + k;
            if (v is JsonObject child) foreach (var kv in Flatten(child, key + ".")) yield return kv;
            else yield return new(key, v);
        }
    }

    private static void Set(JsonObject root, string key, JsonNode? value, string source)
    {
        var parts = key.Split('.');
        JsonObject current = root;
        for (int i = 0; i < parts.Length; i++)
        {
            if (!current.ContainsKey(parts[i]))
                throw new ArgumentException($"{source}: unknown config key '{key}'; valid keys: {string.Join(", ", Flatten(root, "").Select(kv => kv.Key))}");
            if (i == parts.Length - 1)
            {
                if (current[parts[i]] is JsonObject)
                    throw new ArgumentException($"{source}: '{key}' is a section; set one of its keys ({string.Join(", ", Flatten((JsonObject)current[parts[i]]!, key + ".").Select(kv => kv.Key))})");
                current[parts[i]] = value;
            }
            else current = current[parts[i]] as JsonObject
                ?? throw new ArgumentException($"{source}: '{string.Join('.', parts[..(i + 1)])}' is a value, not a section, in '{key}'");
        }
    }

    /// <summary>A --set value: JSON when it parses (numbers, true/false, null, arrays), otherwise a plain string.</summary>
    private static JsonNode? ParseValue(string text)
    {
        try { return JsonNode.Parse(text); }
        catch (JsonException) { return JsonValue.Create(text); }
    }
}
