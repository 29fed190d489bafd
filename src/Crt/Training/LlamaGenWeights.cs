using Crt.Tensors.IO.Torch;

namespace Crt.Training;

/// <summary>Which of crt's two models a LlamaGen checkpoint holds.</summary>
public enum LlamaGenKind { Tokenizer, Gpt }

/// <summary>
/// The state dict inside a LlamaGen checkpoint, named as crt names parameters. LlamaGen's training
/// scripts save {"model": state_dict, "optimizer": …, "steps": n, "args": Namespace, ["ema": …]}; its
/// FSDP checkpoints are the bare state dict; DeepSpeed uses "module", others "state_dict". Keys lose a
/// prefix every key shares ("module." from DDP, "_orig_mod." from torch.compile), and tensors LlamaGen
/// derives rather than learns (freqs_cis, causal_mask, KV caches) are dropped — crt computes its own.
/// </summary>
public sealed record LlamaGenWeights(
    LlamaGenKind Kind, IReadOnlyDictionary<string, TorchTensor> Tensors, string Entry, long? Steps,
    IReadOnlyList<string> FileEntries, IReadOnlyList<string> Notes)
{
    private static readonly string[] WeightEntries = { "model", "module", "state_dict" };
    private static readonly string[] SharedPrefixes = { "module.", "_orig_mod." };

    /// <summary>The weights under <paramref name="key"/>, or the first of model / module / state_dict, or the file itself when it is a bare state dict.</summary>
    public static LlamaGenWeights Select(TorchCheckpoint ckpt, string? key) => Select(ckpt.Path, ckpt.Root, key);

    /// <summary>The same from an unpickled object (<paramref name="path"/> names the file in errors).</summary>
    public static LlamaGenWeights Select(string path, object? file, string? key)
    {
        if (file is not PickleDict root)
            throw new InvalidDataException($"{path}: holds a {Describe(file)}, not a dict; LlamaGen's checkpoints are dicts of weights (or a bare state dict)");
        var entries = root.Items.Select(kv => kv.Key as string ?? Describe(kv.Key)).ToList();
        string list = string.Join(", ", entries.Take(12)) + (entries.Count > 12 ? $", … ({entries.Count} in all)" : "");
        PickleDict sd;
        string entry;
        if (key is not null)
        {
            if (!root.TryGet(key, out var v)) throw new InvalidDataException($"{path}: no entry '{key}'; the file holds: {list}");
            sd = v as PickleDict ?? throw new InvalidDataException($"{path}: entry '{key}' is a {Describe(v)}, not a state dict");
            entry = key;
        }
        else if (root.Count > 0 && root.Items.All(kv => kv.Value is TorchTensor))
        {
            sd = root;
            entry = "(the whole file: a bare state dict)";
        }
        else
        {
            entry = WeightEntries.FirstOrDefault(e => root.TryGet(e, out var v) && v is PickleDict)
                ?? throw new InvalidDataException($"{path}: no state dict under 'model', 'module' or 'state_dict', and the file is not a bare state dict; it holds: {list} (choose one with --key)");
            sd = (PickleDict)root[entry]!;
        }

        var tensors = new Dictionary<string, TorchTensor>(StringComparer.Ordinal);
        foreach (var (k, v) in sd.Items)
        {
            if (k is not string name) throw new InvalidDataException($"{path}: entry '{entry}' has a key {Describe(k)}, not a parameter name");
            tensors[name] = v as TorchTensor ?? throw new InvalidDataException($"{path}: entry '{entry}' holds '{name}' = {Describe(v)}, not a tensor");
        }
        if (tensors.Count == 0) throw new InvalidDataException($"{path}: entry '{entry}' is an empty state dict");

        var notes = new List<string>();
        foreach (var prefix in SharedPrefixes)
            if (tensors.Keys.All(k => k.StartsWith(prefix, StringComparison.Ordinal)))
            {
                tensors = tensors.ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value, StringComparer.Ordinal);
                notes.Add($"removed the prefix '{prefix}' every key had");
            }
        var derived = tensors.Keys.Where(IsDerived).ToList();
        foreach (var k in derived) tensors.Remove(k);
        if (derived.Count > 0) notes.Add($"left out {derived.Count} derived buffer(s) crt computes itself: {string.Join(", ", derived.Take(4))}{(derived.Count > 4 ? ", …" : "")}");
        if (key is null && entry != "ema" && root.ContainsKey("ema")) notes.Add("the file also holds EMA weights ('ema'); --key ema imports those instead");

        var kind = KindOf(path, tensors.Keys);
        long? steps = root.TryGet("steps", out var s) && s is long n ? n : null;
        return new LlamaGenWeights(kind, tensors, entry, steps, entries, notes);
    }

    private static bool IsDerived(string k) =>
        k is "freqs_cis" or "causal_mask" || k.EndsWith(".kv_cache.k_cache", StringComparison.Ordinal) || k.EndsWith(".kv_cache.v_cache", StringComparison.Ordinal);

    private static LlamaGenKind KindOf(string path, IEnumerable<string> keys)
    {
        var set = keys.ToHashSet(StringComparer.Ordinal);
        if (set.Contains("tok_embeddings.weight"))
        {
            if (set.Any(k => k.StartsWith("cls_embedding.cap_proj.", StringComparison.Ordinal)))
                throw new InvalidDataException($"{path}: a text-conditional (t2i) LlamaGen GPT; crt's GPT is class-conditional (c2i)");
            return LlamaGenKind.Gpt;
        }
        if (set.Contains("quantize.embedding.weight") || set.Contains("encoder.conv_in.weight")) return LlamaGenKind.Tokenizer;
        throw new InvalidDataException($"{path}: the weights are neither a LlamaGen VQ tokenizer (encoder.*, quantize.embedding.weight) nor a c2i GPT (tok_embeddings.weight); first keys: {string.Join(", ", set.Take(8))}");
    }

    private static string Describe(object? v) => v switch
    {
        null => "None", string s => $"'{s}'", TorchTensor t => $"tensor {t}", PickleDict => "dict", List<object?> => "list",
        object?[] => "tuple", PickleObject o => $"{o.Type} object", long or double or bool => v.ToString()!, _ => v.GetType().Name,
    };
}
