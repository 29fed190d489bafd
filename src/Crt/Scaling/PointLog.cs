using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Crt.Tensors.IO;
using Crt.Training;

namespace Crt.Scaling;

/// <summary>
/// points.jsonl: one JSON record per line, tokenizer records and point records, appended as each is
/// measured and flushed at once, so a killed sweep loses at most the line being written (a torn last
/// line is cut off when the log is next opened). When a key appears twice the later record wins.
/// </summary>
public sealed class PointLog
{
    public string Path { get; }

    public PointLog(string path)
    {
        Path = path;
        RepairTornTail();
    }

    /// <summary>The project's config naming (snake_case, NaN allowed) on one line.</summary>
    private static readonly JsonSerializerOptions OneLine = new(ConfigResolver.Json) { WriteIndented = false };

    public void Append(TokenizerRecord r) => AppendLine(JsonSerializer.Serialize(r, OneLine));
    public void Append(PointRecord r) => AppendLine(JsonSerializer.Serialize(r, OneLine));

    /// <summary>The latest record of every tokenizer and of every point whose tokenizer record it matches (points of a retrained tokenizer are dropped).</summary>
    public (IReadOnlyList<TokenizerRecord> Tokenizers, IReadOnlyList<PointRecord> Points) Read()
    {
        var tokenizers = new Dictionary<string, TokenizerRecord>();
        var points = new Dictionary<string, PointRecord>();
        if (!File.Exists(Path)) return (Array.Empty<TokenizerRecord>(), Array.Empty<PointRecord>());
        int line = 0;
        foreach (var text in File.ReadLines(Path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try
            {
                var node = JsonText.Parse(text) as JsonObject ?? throw new JsonException("not an object");
                switch ((string?)node["kind"])
                {
                    case "tokenizer": var t = node.Deserialize<TokenizerRecord>(OneLine)!; tokenizers[t.Name] = t; break;
                    case "point": var p = node.Deserialize<PointRecord>(OneLine)!; points[p.Key] = p; break;
                    default: throw new JsonException($"unknown record kind '{node["kind"]}'");
                }
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{Path}: line {line} is not a sweep record ({e.Message})");
            }
        }
        var kept = points.Values.Where(p => tokenizers.TryGetValue(p.Tokenizer, out var t) && t.Sha256 == p.TokenizerSha256).ToList();
        return (tokenizers.Values.ToList(), kept);
    }

    private void AppendLine(string json)
    {
        using var file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
        var bytes = Encoding.UTF8.GetBytes(json + "\n");
        file.Write(bytes);
        file.Flush(flushToDisk: true);
    }

    /// <summary>A kill mid-append leaves a line without its newline: drop it, so the next record starts on a line of its own.</summary>
    private void RepairTornTail()
    {
        if (!File.Exists(Path)) return;
        var bytes = File.ReadAllBytes(Path);
        if (bytes.Length == 0 || bytes[^1] == (byte)'\n') return;
        int keep = Array.LastIndexOf(bytes, (byte)'\n') + 1;
        Data.AtomicFile.WriteAllBytes(Path, bytes.AsSpan(0, keep).ToArray());
    }
}
