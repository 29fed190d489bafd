using System.Text.Json;
using System.Text.Json.Nodes;

namespace Crt.Tensors.IO;

/// <summary>
/// JSON read from files. A key given twice is an error (a JsonException, which each reader reports with its
/// file's name): System.Text.Json would otherwise either keep one of the two silently or throw an
/// ArgumentException that names neither the file nor the key's place.
/// </summary>
public static class JsonText
{
    public static readonly JsonDocumentOptions Strict = new() { AllowDuplicateProperties = false };

    /// <summary>As <see cref="Strict"/>, and also allowing // comments and trailing commas (hand-written plans).</summary>
    public static readonly JsonDocumentOptions Lenient = new()
    {
        AllowDuplicateProperties = false, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true,
    };

    public static JsonNode? Parse(string text) => JsonNode.Parse(text, documentOptions: Strict);
}
