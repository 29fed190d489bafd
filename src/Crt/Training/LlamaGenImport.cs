using System.Globalization;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Crt.Data;
using Crt.Generator;
using Crt.Regularizer;
using Crt.Tensors;
using Crt.Tensors.IO.Torch;
using Crt.Tensors.Nn;
using Crt.Tokenizer;

namespace Crt.Training;

/// <summary>What <c>crt import llamagen</c> was told beyond the file (each null: inferred or defaulted).</summary>
public sealed record LlamaGenImportOptions
{
    /// <summary>The checkpoint entry holding the weights (e.g. "ema").</summary>
    public string? Key { get; init; }
    /// <summary>Tokenizer: the image side it encodes (default 256).</summary>
    public int? ImageSize { get; init; }
    /// <summary>Tokenizer: the dataset crt eval / tokenize read (default the built-in one).</summary>
    public string? Data { get; init; }
    /// <summary>GPT: a tokenizer run whose codes it models (gives the block size; sample then checks the pair).</summary>
    public string? TokenizerRun { get; init; }
    /// <summary>GPT: tokens per image (default: the tokenizer's, else 256).</summary>
    public int? BlockSize { get; init; }
    /// <summary>GPT: attention heads (default: from the table of known shapes).</summary>
    public int? Heads { get; init; }
    public string? ConfigFile { get; init; }
    public IReadOnlyList<string> Sets { get; init; } = Array.Empty<string>();
}

/// <summary>What was imported (or, on a dry run, would be).</summary>
public sealed record LlamaGenImportResult(
    LlamaGenKind Kind, string? RunDir, string Preset, string ConfigJson, long Parameters, long Step, string Entry,
    IReadOnlyDictionary<string, int> Dtypes, IReadOnlyList<string> Notes);

/// <summary>
/// Turns a LlamaGen checkpoint (vq_ds16_c2i.pt, c2i_B_256.pt, …) into a crt run directory that loads
/// exactly like a trained one (config.json + checkpoints/step-N/model.safetensors + import.json with the
/// provenance), so crt sample, eval, tokenize and gpt eval take it as is. The file is read by crt's
/// restricted unpickler; the weights must fit the inferred (or given) config key for key and shape.
/// </summary>
public static class LlamaGenImport
{
    /// <summary>Imports <paramref name="source"/> into the new run <paramref name="outDir"/>; with no outDir, only reads and checks (a dry run).</summary>
    public static LlamaGenImportResult Run(string source, string? outDir, LlamaGenImportOptions o)
    {
        using var ckpt = TorchCheckpoint.Open(source);
        var w = LlamaGenWeights.Select(ckpt, o.Key);
        var shapes = w.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value.Shape, StringComparer.Ordinal);
        var notes = new List<string>(w.Notes);
        Module model;
        string preset, json;
        if (w.Kind == LlamaGenKind.Tokenizer)
        {
            if (o.TokenizerRun is not null || o.BlockSize is not null || o.Heads is not null)
                throw new ArgumentException($"{source}: holds a tokenizer; --tokenizer, --block-size and --heads apply to a GPT");
            var (config, p) = TokenizerConfig(source, shapes, o, notes);
            preset = p;
            json = ConfigResolver.ToJson(config);
            var vq = new VqModel(config.Model, new Rng(0));
            // LlamaGen keeps codebook_used (a window of recent code indices, for usage statistics) only with show_usage on.
            Fill(ckpt, w, vq, $"a tokenizer ({Describe(config.Model)})", optional: new[] { "quantize.codebook_used" }, notes);
            model = vq;
        }
        else
        {
            if (o.ImageSize is not null || o.Data is not null)
                throw new ArgumentException($"{source}: holds a GPT; --image-size and --data apply to a tokenizer");
            var (config, p) = GptConfigFor(source, shapes, o, notes);
            preset = p;
            json = ConfigResolver.ToJson(config);
            var gpt = new Gpt(config.Model, new Rng(0));
            Fill(ckpt, w, gpt, $"a GPT ({Describe(config.Model)})", optional: Array.Empty<string>(), notes);
            model = gpt;
        }
        var dtypes = w.Tensors.Values.GroupBy(t => t.Dtype.ToString().ToLowerInvariant()).ToDictionary(g => g.Key, g => g.Count());
        long step = w.Steps ?? 0;
        var result = new LlamaGenImportResult(w.Kind, outDir, preset, json, model.ParameterCount, step, w.Entry, dtypes, notes);
        if (outDir is null) return result;
        WriteRun(source, outDir, model, result, w);
        return result;
    }

    private static (TokenizerTrainConfig, string Preset) TokenizerConfig(string source, Dictionary<string, int[]> shapes, LlamaGenImportOptions o, List<string> notes)
    {
        var vq = LlamaGenShapes.Tokenizer(shapes, o.ImageSize ?? 256, source);
        var preset = VqConfig.Presets.FirstOrDefault(p => SameJson(p.Value with { ImageSize = vq.ImageSize }, vq)).Key ?? "llamagen";
        bool folder = o.Data is not null && Directory.Exists(o.Data);
        var config = new TokenizerTrainConfig
        {
            Preset = preset, Model = vq,
            Crt = new CrtConfig { Enabled = false }, // an imported tokenizer carries no regulariser
            Data = o.Data is null ? "fashion-mnist" : folder ? Path.GetFullPath(o.Data) : o.Data,
            // Fashion-MNIST and other IDX sets are 28×28, padded to 32 as in training; an image folder is made the model's size.
            Pad = o.Data is null || o.Data == "fashion-mnist" || folder && BuiltInDatasets.IsIdxFolder(o.Data) ? 2 : 0,
        };
        config = ConfigResolver.Resolve(config, o.ConfigFile, o.Sets);
        config.Validate();
        bool idx = config.Data == "fashion-mnist" || Directory.Exists(config.Data) && BuiltInDatasets.IsIdxFolder(config.Data);
        if (idx && (config.Model.ImageSize != 28 + 2 * config.Pad || config.Model.InChannels != 1))
            notes.Add($"the tokenizer encodes {config.Model.ImageSize}×{config.Model.ImageSize}×{config.Model.InChannels} images, not {config.Data}'s 28×28 gray ones padded by {config.Pad}: give crt eval / tokenize its images by importing with --data DIR (an image folder)");
        return (config, preset);
    }

    private static (GptTrainConfig, string Preset) GptConfigFor(string source, Dictionary<string, int[]> shapes, LlamaGenImportOptions o, List<string> notes)
    {
        TokenizerCheckpoint? tok = o.TokenizerRun is null ? null : TokenizerCheckpoint.Load(o.TokenizerRun);
        int block = o.BlockSize ?? tok?.Config.Model.TokensPerImage ?? 256;
        if (tok is not null && block != tok.Config.Model.TokensPerImage)
            throw new ArgumentException($"--block-size {block}: the tokenizer {o.TokenizerRun} makes {tok.Config.Model.TokensPerImage} tokens per image");
        var m = LlamaGenShapes.Gpt(shapes, o.Heads, block, source, out var headsFrom);
        notes.Add($"{m.Heads} attention heads (from {headsFrom}); {block} tokens per image ({(o.BlockSize is not null ? "--block-size" : tok is not null ? "the tokenizer" : "the default, LlamaGen's 256")})");
        var preset = GptConfig.Presets.FirstOrDefault(p => p.Value.Layers == m.Layers && p.Value.Dim == m.Dim && p.Value.Heads == m.Heads && GptConfig.RoundUp(2 * 4 * m.Dim / 3, p.Value.MultipleOf) == m.FfnHidden).Key ?? "llamagen";
        var config = new GptTrainConfig { Preset = preset, Model = m, TokenizerSha256 = tok?.Sha256 };
        config = ConfigResolver.Resolve(config, o.ConfigFile, o.Sets);
        config.Model.Validate();
        if (tok is not null && tok.Config.Model.CodebookSize != config.Model.VocabSize)
            throw new ArgumentException($"{source}: the GPT models {config.Model.VocabSize} codes, the tokenizer {o.TokenizerRun} has {tok.Config.Model.CodebookSize}");
        return (config, preset);
    }

    /// <summary>
    /// Checks every key and shape first (one message listing all that do not fit), then reads each tensor
    /// straight into the model's own parameter, so the weights are held once.
    /// </summary>
    private static void Fill(TorchCheckpoint ckpt, LlamaGenWeights w, Module model, string what, string[] optional, List<string> notes)
    {
        var own = model.StateDict();
        var missing = own.Keys.Where(k => !w.Tensors.ContainsKey(k) && !optional.Contains(k)).ToList();
        var unexpected = w.Tensors.Keys.Where(k => !own.ContainsKey(k)).ToList();
        var mismatched = own.Where(kv => w.Tensors.TryGetValue(kv.Key, out var t) && !t.Shape.SequenceEqual(kv.Value.Shape))
            .Select(kv => $"{kv.Key} is [{string.Join(", ", w.Tensors[kv.Key].Shape)}] in the file, [{string.Join(", ", kv.Value.Shape)}] in crt").ToList();
        var problems = new List<string>();
        if (missing.Count > 0) problems.Add($"missing ({missing.Count}): {Some(missing)}");
        if (unexpected.Count > 0) problems.Add($"not in crt's model ({unexpected.Count}): {Some(unexpected)}");
        if (mismatched.Count > 0) problems.Add($"different shapes ({mismatched.Count}): {Some(mismatched)}");
        if (problems.Count > 0)
            throw new InvalidDataException($"{ckpt.Path}: the weights in '{w.Entry}' do not fit {what}: {string.Join("; ", problems)}. Override the inferred config with --set (see crt import llamagen --help)");
        foreach (var (name, dst) in own)
        {
            if (w.Tensors.TryGetValue(name, out var t)) ckpt.ReadInto(t, dst.Span, name);
            else notes.Add($"{name} is not in the file; left at zero");
        }
        foreach (var (name, p) in model.NamedParameters())
            foreach (var v in p.ReadOnlySpan)
                if (!float.IsFinite(v)) throw new InvalidDataException($"{ckpt.Path}: tensor '{name}' holds NaN or infinite values");
    }

    private static void WriteRun(string source, string outDir, Module model, LlamaGenImportResult r, LlamaGenWeights w)
    {
        bool existed = Directory.Exists(outDir);
        var run = RunDirectory.Open(outDir, resume: false);
        try
        {
            run.SaveCheckpoint(r.Step, dir => model.Save(Path.Combine(dir, "model.safetensors"),
                new Dictionary<string, string> { ["imported_from"] = Path.GetFullPath(source), ["format"] = "LlamaGen torch.save checkpoint" }));
            string sha;
            using (var f = File.OpenRead(source)) sha = Convert.ToHexString(SHA256.HashData(f)).ToLowerInvariant();
            var info = new JsonObject
            {
                ["source"] = Path.GetFullPath(source),
                ["source_bytes"] = new FileInfo(source).Length,
                ["source_sha256"] = sha,
                ["format"] = "LlamaGen checkpoint (torch.save zip), read by crt's restricted unpickler",
                ["kind"] = r.Kind == LlamaGenKind.Tokenizer ? "tokenizer" : "gpt",
                ["entry"] = r.Entry,
                ["file_entries"] = new JsonArray(w.FileEntries.Select(e => (JsonNode)e).ToArray()),
                ["steps"] = w.Steps,
                ["dtypes"] = new JsonObject(r.Dtypes.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
                ["parameters"] = r.Parameters,
                ["notes"] = new JsonArray(r.Notes.Select(n => (JsonNode)n).ToArray()),
                ["imported_at"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            };
            AtomicFile.WriteAllText(run.ImportPath, info.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
            run.WriteConfig(r.ConfigJson); // last: a config.json marks a complete run
        }
        catch
        {
            // Nothing half-written is left to look like a run: remove what this import created.
            if (!existed)
            {
                try { Directory.Delete(run.Root, recursive: true); }
                catch (IOException) { /* the original error matters more */ }
            }
            throw;
        }
    }

    private static bool SameJson<T>(T a, T b) => ConfigResolver.ToJson(a) == ConfigResolver.ToJson(b);

    private static string Some(List<string> items) => string.Join(", ", items.Take(12)) + (items.Count > 12 ? $", … ({items.Count - 12} more)" : "");

    public static string Describe(VqConfig c) => string.Create(CultureInfo.InvariantCulture,
        $"in {c.InChannels}, ch {c.Channels}, ch_mult {string.Join(",", c.ChannelMultipliers)}, {c.NumResBlocks} res blocks, z {c.ZChannels}, codebook {c.CodebookSize}×{c.CodeDim}, {c.ImageSize}×{c.ImageSize} images → {c.GridSize}×{c.GridSize} tokens");

    public static string Describe(GptConfig c) => string.Create(CultureInfo.InvariantCulture,
        $"{c.Layers} layers, {c.Heads} heads, width {c.Dim}, SwiGLU {c.FfnHidden}, vocabulary {c.VocabSize}, {c.NumClasses} classes, {c.BlockSize} tokens");
}
