using System.Text.Json;
using System.Text.Json.Nodes;
using Crt.Data;
using Crt.Training;

namespace Crt.Scaling;

/// <summary>
/// One tokenizer of a sweep: trained by the sweep from a preset or config file plus overrides
/// (<see cref="Config"/> is the resolved config), or an existing tokenizer run reused as it is (<see cref="Run"/>).
/// </summary>
public sealed record SweepTokenizer
{
    public required string Name { get; init; }
    public string? Run { get; init; }
    public string? Preset { get; init; }
    public string? ConfigFile { get; init; }
    public IReadOnlyList<string> Set { get; init; } = Array.Empty<string>();
    /// <summary>The tokenizer this one is set against for claim 4 (fewer tokens / smaller codebook); null: the plan's rule.</summary>
    public string? CompareTo { get; init; }
    public TokenizerTrainConfig? Config { get; init; }
}

/// <summary>Which images are tokenized for stage 2: the first <see cref="TrainImages"/> of the training split, each in every variant.</summary>
public sealed record TokenizeSettings(int TrainImages, string[] Variants);

/// <summary>
/// The GPTs: every preset trained once per tokenizer, measured at each of <see cref="Steps"/> (the
/// prefixes of that one run; with a constant learning rate a prefix is a valid shorter run).
/// </summary>
public sealed record GptSweepSettings(string[] Presets, long[] Steps, int BatchSize, double Lr, int CheckpointEvery, IReadOnlyList<string> Set);

/// <summary>How each point is measured: validation sequences for CE, test images as the real set, samples for FID (0: none), guidance, bootstrap resamples.</summary>
public sealed record EvalSettings(int ValSequences, int TestImages, int Samples, float Cfg, int Bootstrap)
{
    /// <summary>Also the FID of the first n samples, for each n (below <see cref="Samples"/>): how FID depends on the sample count.</summary>
    public int[] FidOfFirst { get; init; } = [];
}

/// <summary>
/// One replicate of a sweep: the seed its tokenizers train with and the seed its GPTs train (and sample) with.
/// A plan with several replicates runs the whole study once per replicate, each in its own folder.
/// </summary>
public sealed record SweepReplicate(ulong TokenizerSeed, ulong GptSeed)
{
    public string FolderName => $"seed-t{TokenizerSeed}-g{GptSeed}";
    public override string ToString() => $"tokenizer seed {TokenizerSeed}, GPT seed {GptSeed}";
}

/// <summary>A scaling study: tokenizers × GPT presets × training lengths on one dataset, and how to measure it (spec §6).</summary>
public sealed record SweepPlan(string Path, string Description, string Data, ulong Seed, string Baseline, string? Crt,
    IReadOnlyList<SweepTokenizer> Tokenizers, TokenizeSettings Tokenize, GptSweepSettings Gpt, EvalSettings Eval)
{
    private static readonly string[] PlanKeys = { "description", "data", "seed", "seeds", "baseline", "crt", "tokenizers", "tokenize", "gpt", "eval" };

    /// <summary>The replicates the plan asks for ("seeds"); one, from "seed", when it names none.</summary>
    public IReadOnlyList<SweepReplicate> Replicates { get; init; } = [];

    /// <summary>
    /// The plan of one replicate: its GPTs use the replicate's GPT seed, its trained tokenizers its tokenizer seed.
    /// <paramref name="trainedBefore"/> gives the run folder of a tokenizer an earlier replicate already trained with
    /// the same seed (and so the same weights): that one is reused, not trained again.
    /// </summary>
    public SweepPlan ForReplicate(SweepReplicate r, Func<string, string?> trainedBefore) => this with
    {
        Seed = r.GptSeed,
        Replicates = [r],
        Tokenizers = Tokenizers.Select(t => t.Run is not null ? t
            : trainedBefore(t.Name) is { } run ? new SweepTokenizer { Name = t.Name, Run = run, CompareTo = t.CompareTo }
            : t with { Config = t.Config! with { Seed = r.TokenizerSeed } }).ToList(),
    };
    private static readonly string[] TokenizerKeys = { "name", "run", "preset", "config", "set", "compare_to" };
    /// <summary>GPT config keys the sweep itself sets for every run.</summary>
    private static readonly string[] OwnedGptKeys = { "tokens", "val_tokens", "steps", "compute_budget", "val_every", "val_sequences", "batch_size", "lr", "checkpoint_every", "seed" };

    /// <summary>Every (tokenizer, preset, steps) point, smallest GPTs first so a partial sweep already compares all tokenizers.</summary>
    public IEnumerable<(SweepTokenizer Tokenizer, string Preset, long Steps)> Points() =>
        from p in Gpt.Presets from t in Tokenizers from s in Gpt.Steps select (t, p, s);

    public int PointCount => Gpt.Presets.Length * Tokenizers.Count * Gpt.Steps.Length;

    public SweepTokenizer Tokenizer(string name) => Tokenizers.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"{Path}: no tokenizer named '{name}'; the plan has {string.Join(", ", Tokenizers.Select(t => t.Name))}");

    /// <summary>The config of one GPT run of the sweep (its tokens, the plan's optimisation and bookkeeping, then the plan's overrides).</summary>
    public GptTrainConfig GptConfig(string preset, string trainTokens, string valTokens, long steps) =>
        ConfigResolver.Resolve(GptTrainConfig.ForPreset(preset) with
        {
            Tokens = trainTokens, ValTokens = valTokens, Steps = steps, BatchSize = Gpt.BatchSize, Lr = Gpt.Lr,
            ValEvery = int.MaxValue, ValSequences = Eval.ValSequences, CheckpointEvery = Gpt.CheckpointEvery, Seed = Seed,
        }, null, Gpt.Set);

    public static SweepPlan Load(string path)
    {
        var r = PlanReader.Open(path, PlanKeys);
        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        string data = r.String("data", BuiltInDatasets.FashionMnist)!;
        if (data != BuiltInDatasets.FashionMnist) data = System.IO.Path.GetFullPath(System.IO.Path.Combine(dir, data));
        long seed = r.Integer("seed", 0);
        if (seed < 0) throw r.Error($"seed {seed} must be ≥ 0");
        var replicates = ReadReplicates(r, (ulong)seed);

        if (r.Node("tokenizers") is not JsonArray list || list.Count == 0)
            throw r.Error("tokenizers must be a non-empty array of {\"name\": …, \"preset\" | \"config\" | \"run\": …} objects");
        var tokenizers = list.Select((n, i) => ReadTokenizer(new PlanReader(n, path, $"tokenizers[{i}]", TokenizerKeys), dir, data, (ulong)seed)).ToList();
        if (replicates.Count > 1 && tokenizers.FirstOrDefault(t => t.Set.Any(s => s.StartsWith("seed=", StringComparison.Ordinal))) is { } seeded)
            throw r.Error($"tokenizer '{seeded.Name}' sets its own seed, but the plan's seeds give every replicate its tokenizer seed");
        foreach (var dup in tokenizers.GroupBy(t => t.Name).Where(g => g.Count() > 1))
            throw r.Error($"two tokenizers are named '{dup.Key}'");

        var tk = r.Child("tokenize", "train_images", "variants");
        var tokenize = new TokenizeSettings(Positive(tk, "train_images", 12000), tk.Strings("variants", new[] { "original", "flip" }));
        try { Tokenization.ExpandVariants(tokenize.Variants); }
        catch (ArgumentException e) { throw r.Error($"tokenize.variants: {e.Message}"); }

        var g = r.Child("gpt", "presets", "steps", "batch_size", "lr", "checkpoint_every", "set");
        var presets = g.Strings("presets", new[] { "gpt-t1", "gpt-t2" });
        if (presets.Length == 0 || presets.Distinct().Count() != presets.Length) throw r.Error("gpt.presets must list distinct presets");
        foreach (var p in presets)
            if (!Generator.GptConfig.Presets.ContainsKey(p)) throw r.Error($"gpt.presets: unknown GPT preset '{p}'; valid presets: {string.Join(", ", Generator.GptConfig.Presets.Keys)}");
        var gpt = new GptSweepSettings(presets, ReadSteps(g), Positive(g, "batch_size", 64), g.Number("lr", new GptTrainConfig().Lr),
            Positive(g, "checkpoint_every", 200), g.Overrides("set"));
        if (!(gpt.Lr > 0)) throw r.Error($"gpt.lr {gpt.Lr} must be positive");
        foreach (var s in gpt.Set)
            if (OwnedGptKeys.Contains(s[..s.IndexOf('=')])) throw r.Error($"gpt.set: '{s[..s.IndexOf('=')]}' is set by the sweep itself (use gpt.steps, gpt.batch_size, gpt.lr, gpt.checkpoint_every, eval.val_sequences, seed)");
        try { ConfigResolver.Resolve(GptTrainConfig.ForPreset(presets[0]), null, gpt.Set); }
        catch (ArgumentException e) { throw r.Error($"gpt.set: {e.Message.Replace("--set: ", "")}"); }

        var ev = r.Child("eval", "val_sequences", "test_images", "samples", "cfg", "bootstrap", "fid_of_first");
        var eval = new EvalSettings(Positive(ev, "val_sequences", 1000), Positive(ev, "test_images", 2000), (int)ev.Integer("samples", 500),
            (float)ev.Number("cfg", 1.5), (int)ev.Integer("bootstrap", 1000))
        {
            FidOfFirst = ev.Node("fid_of_first") is null ? [] : ev.Node("fid_of_first") is JsonArray counts
                ? counts.Select(n => n is not null && n.GetValueKind() == JsonValueKind.Number && n.GetValue<double>() is var d && d == Math.Floor(d) && d >= 2 && d <= int.MaxValue
                    ? (int)d : throw r.Error("eval.fid_of_first must list sample counts ≥ 2")).Distinct().Order().ToArray()
                : throw r.Error("eval.fid_of_first must be a list of sample counts"),
        };
        if (eval.FidOfFirst.Length > 0 && eval.FidOfFirst[^1] >= eval.Samples)
            throw r.Error($"eval.fid_of_first: {eval.FidOfFirst[^1]} is not below eval.samples {eval.Samples} (these are FIDs of the first n of those samples)");
        if (eval.TestImages < 2) throw r.Error("eval.test_images must be at least 2 (FID needs a covariance)");
        if (eval.Samples is < 0 or 1) throw r.Error($"eval.samples {eval.Samples} must be 0 (no FID) or at least 2");
        if (!(eval.Cfg >= 0)) throw r.Error($"eval.cfg {eval.Cfg} must be ≥ 0");
        if (eval.Bootstrap < 0) throw r.Error($"eval.bootstrap {eval.Bootstrap} must be ≥ 0");

        string baseline = r.String("baseline", tokenizers[0].Name)!;
        string? crt = r.String("crt");
        foreach (var (key, name) in new[] { ("baseline", baseline), ("crt", crt) }.Concat(tokenizers.Select(t => ("compare_to", t.CompareTo))))
            if (name is not null && tokenizers.All(t => t.Name != name))
                throw r.Error($"{key} names tokenizer '{name}', which the plan does not list ({string.Join(", ", tokenizers.Select(t => t.Name))})");
        if (crt == baseline) throw r.Error($"baseline and crt both name '{crt}'");
        return new SweepPlan(System.IO.Path.GetFullPath(path), r.String("description", "")!, data, (ulong)seed, baseline, crt, tokenizers, tokenize, gpt, eval)
        {
            Replicates = replicates,
        };
    }

    /// <summary>
    /// "seeds": a list (each seed used for the tokenizers and the GPTs of one replicate) or {"tokenizer": [...], "gpt": [...]},
    /// two lists of one length, paired by position (to vary one while the other stays, repeat it).
    /// </summary>
    private static IReadOnlyList<SweepReplicate> ReadReplicates(PlanReader r, ulong seed)
    {
        var node = r.Node("seeds");
        if (node is null) return [new(seed, seed)];
        if (r.Node("seed") is not null) throw r.Error("give either seed or seeds, not both");
        List<SweepReplicate> list;
        if (node is JsonArray)
            list = Seeds(node, "seeds").Select(s => new SweepReplicate(s, s)).ToList();
        else if (node is JsonObject)
        {
            var o = r.Child("seeds", "tokenizer", "gpt");
            var (t, g) = (Seeds(o.Node("tokenizer"), "seeds.tokenizer"), Seeds(o.Node("gpt"), "seeds.gpt"));
            if (t.Length != g.Length) throw r.Error($"seeds.tokenizer has {t.Length} seeds and seeds.gpt {g.Length}: they pair up by position, so give both the same length");
            list = t.Zip(g, (a, b) => new SweepReplicate(a, b)).ToList();
        }
        else throw r.Error("seeds must be a list of seeds or {\"tokenizer\": [...], \"gpt\": [...]}");
        if (list.Count == 0) throw r.Error("seeds must name at least one seed");
        if (list.Distinct().Count() != list.Count) throw r.Error("seeds repeats a replicate (the same tokenizer and GPT seeds twice would measure one run twice)");
        return list;

        ulong[] Seeds(JsonNode? n, string where) => n is JsonArray a
            ? a.Select(v => v is not null && v.GetValueKind() == JsonValueKind.Number && v.GetValue<double>() is var d && d >= 0 && d == Math.Floor(d) && d < 1e15
                ? (ulong)d : throw r.Error($"{where} must hold integers ≥ 0")).ToArray()
            : throw r.Error($"{where} must be a list of integers ≥ 0");
    }

    private static SweepTokenizer ReadTokenizer(PlanReader t, string dir, string data, ulong seed)
    {
        string name = t.String("name") ?? throw t.Error($"{t.Where} needs a name");
        if (name.Length == 0 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw t.Error($"{t.Where}: name '{name}' must be letters, digits, '-', '_' or '.' (it names folders)");
        string? run = t.String("run"), preset = t.String("preset"), config = t.String("config");
        var sets = t.Overrides("set");
        if (run is not null)
        {
            if (preset is not null || config is not null || sets.Count > 0)
                throw t.Error($"{t.Where} ('{name}'): a reused run takes no preset, config or set");
            return new SweepTokenizer { Name = name, Run = System.IO.Path.GetFullPath(System.IO.Path.Combine(dir, run)), CompareTo = t.String("compare_to") };
        }
        if (config is not null) config = System.IO.Path.GetFullPath(System.IO.Path.Combine(dir, config));
        TokenizerTrainConfig resolved;
        try
        {
            preset ??= ConfigResolver.PresetOf(config) ?? "vq-tiny";
            var all = new List<string> { $"data={JsonSerializer.Serialize(data)}", $"seed={seed}" };
            all.AddRange(sets);
            resolved = ConfigResolver.Resolve(TokenizerTrainConfig.ForPreset(preset), config, all);
            resolved.Validate();
        }
        catch (ArgumentException e) { throw t.Error($"{t.Where} ('{name}'): {e.Message.Replace("--set: ", "")}"); }
        if (resolved.Data != data) throw t.Error($"{t.Where} ('{name}'): data '{resolved.Data}' differs from the plan's data '{data}'");
        return new SweepTokenizer { Name = name, Preset = preset, ConfigFile = config, Set = sets, CompareTo = t.String("compare_to"), Config = resolved };
    }

    /// <summary>"steps": an increasing list, or {"first", "last", "count"} for log-spaced checkpoints.</summary>
    private static long[] ReadSteps(PlanReader g)
    {
        long[] steps;
        if (g.Node("steps") is JsonObject)
        {
            var s = g.Child("steps", "first", "last", "count");
            long first = s.Integer("first", 0), last = s.Integer("last", 0), count = s.Integer("count", 0);
            if (first < 1 || last <= first || count < 2) throw g.Error($"gpt.steps: need 1 ≤ first < last and count ≥ 2 (got first {first}, last {last}, count {count})");
            steps = LogSpaced(first, last, (int)count);
        }
        else if (g.Node("steps") is JsonArray) steps = ReadIntegers(g);
        else throw g.Error("gpt.steps must be a list of step counts or {\"first\": N, \"last\": M, \"count\": K} (log-spaced)");
        for (int i = 0; i < steps.Length; i++)
            if (steps[i] < 1 || (i > 0 && steps[i] <= steps[i - 1])) throw g.Error($"gpt.steps [{string.Join(", ", steps)}] must be positive and increasing");
        return steps;
    }

    private static long[] ReadIntegers(PlanReader g) =>
        ((JsonArray)g.Node("steps")!).Select(n => n is not null && n.GetValueKind() == JsonValueKind.Number && n.GetValue<double>() is var d && d == Math.Floor(d)
            ? (long)d : throw g.Error("gpt.steps must hold integers")).ToArray();

    /// <summary>count step counts from first to last, evenly spaced in log steps and rounded (duplicates dropped).</summary>
    public static long[] LogSpaced(long first, long last, int count) =>
        Enumerable.Range(0, count).Select(i => (long)Math.Round(first * Math.Pow((double)last / first, i / (count - 1.0)))).Distinct().ToArray();

    private static int Positive(PlanReader r, string key, int fallback)
    {
        long v = r.Integer(key, fallback);
        return v is >= 1 and <= int.MaxValue ? (int)v : throw r.Error($"{r.Path(key)} {v} must be a positive integer");
    }

    /// <summary>The plan as the sweep folder records it: paths absolute, steps listed, every default written out.</summary>
    public string ToJson()
    {
        static JsonArray Array<T>(IEnumerable<T> items) => new(items.Select(i => JsonValue.Create(i)).ToArray<JsonNode?>());
        static JsonObject? Sets(IReadOnlyList<string> sets) => sets.Count == 0 ? null
            : new JsonObject(sets.Select(s => KeyValuePair.Create(s[..s.IndexOf('=')], JsonNode.Parse(s[(s.IndexOf('=') + 1)..]))));
        var tokenizers = new JsonArray();
        foreach (var t in Tokenizers)
        {
            var o = new JsonObject { ["name"] = t.Name };
            if (t.Run is not null) o["run"] = t.Run;
            else o["preset"] = t.Preset;
            if (t.ConfigFile is not null) o["config"] = t.ConfigFile;
            if (Sets(t.Set) is { } set) o["set"] = set;
            if (t.CompareTo is not null) o["compare_to"] = t.CompareTo;
            tokenizers.Add(o);
        }
        var gpt = new JsonObject
        {
            ["presets"] = Array(Gpt.Presets), ["steps"] = Array(Gpt.Steps), ["batch_size"] = Gpt.BatchSize, ["lr"] = Gpt.Lr, ["checkpoint_every"] = Gpt.CheckpointEvery,
        };
        if (Sets(Gpt.Set) is { } gset) gpt["set"] = gset;
        var root = new JsonObject
        {
            ["description"] = Description, ["data"] = Data, ["seed"] = Seed, ["baseline"] = Baseline, ["crt"] = Crt, ["tokenizers"] = tokenizers,
            ["tokenize"] = new JsonObject { ["train_images"] = Tokenize.TrainImages, ["variants"] = Array(Tokenize.Variants) },
            ["gpt"] = gpt,
            ["eval"] = new JsonObject
            {
                ["val_sequences"] = Eval.ValSequences, ["test_images"] = Eval.TestImages, ["samples"] = Eval.Samples, ["cfg"] = Eval.Cfg, ["bootstrap"] = Eval.Bootstrap,
            },
        };
        if (Eval.FidOfFirst.Length > 0) root["eval"]!["fid_of_first"] = Array(Eval.FidOfFirst);
        if (Crt is null) root.Remove("crt");
        if (Replicates.Count > 1)
        {
            root.Remove("seed");
            root["seeds"] = new JsonObject { ["tokenizer"] = Array(Replicates.Select(x => x.TokenizerSeed)), ["gpt"] = Array(Replicates.Select(x => x.GptSeed)) };
        }
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }
}
