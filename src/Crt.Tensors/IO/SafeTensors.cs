namespace Crt.Tensors.IO;

// CONTRACT STUB — signatures are fixed; bodies are being implemented.
public static class SafeTensors
{
    /// <summary>Loads every tensor as float32 (F32, F16, BF16, F64, I64, I32, U8 … converted).</summary>
    public static Dictionary<string, Tensor> Load(string path) => throw new NotImplementedException("SafeTensors.Load");

    /// <summary>The file's __metadata__ map (empty when absent).</summary>
    public static Dictionary<string, string> LoadMetadata(string path) => throw new NotImplementedException("SafeTensors.LoadMetadata");

    /// <summary>Writes F32 tensors (sorted by name) to a temporary file and renames it over <paramref name="path"/>.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) => throw new NotImplementedException("SafeTensors.Save");
}
