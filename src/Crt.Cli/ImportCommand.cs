using System.Globalization;
using System.Text.Json;
using Crt.Training;

namespace Crt.Cli;

/// <summary>crt import llamagen.</summary>
public static class ImportCommand
{
    private const string Help = """
        usage: crt import llamagen FILE.pt --out DIR [options]

        Reads a LlamaGen checkpoint (torch.save's zip format: vq_ds16_c2i.pt, c2i_B_256.pt, …) and writes a
        crt run directory that crt sample, eval, tokenize and gpt eval use like a trained run. The file is
        read by crt's own restricted unpickler: only tensors (float32, float16, bfloat16) and plain data
        come out; any other Python object named in it is refused, and nothing in it is ever run.
        Whether it holds a VQ tokenizer or a c2i GPT, and the model's shape, are read from the weights.

          --out DIR           the run directory to create
          --key NAME          the entry holding the weights (default: model, module or state_dict, or the
                              whole file when it is a bare state dict, as LlamaGen's FSDP checkpoints are);
                              --key ema imports a training checkpoint's EMA weights
          --dry-run           read and check everything, print the inferred config, write nothing

        tokenizer:
          --image-size N      the image side it encodes (default 256; LlamaGen's 384 models: 384)
          --data DIR          images crt eval / tokenize read (an image folder, e.g. ImageNet's val split in
                              class folders; default the built-in Fashion-MNIST); padding 0 unless --set pad=N

        GPT:
          --tokenizer RUN     the imported tokenizer whose codes it models: gives the tokens per image, and
                              crt sample then checks the two belong together
          --block-size N      tokens per image without --tokenizer (default 256 = 16×16; the 384 models: 576)
          --heads N           attention heads (not stored in the weights; LlamaGen's GPT-B … 7B and crt's
                              presets are recognised by depth and width)

          --config FILE, --set KEY=VALUE   override keys of the inferred config, as for training (repeatable)
        """;

    public static int LlamaGen(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(Help); return 0; }
        var cl = CommandLine.Parse(args, new[] { "out", "key", "image-size", "data", "tokenizer", "block-size", "heads", "config", "set" },
            new[] { "dry-run" }, "import llamagen");
        if (cl.Positional.Count != 1) throw new UsageException("import llamagen needs one checkpoint file (FILE.pt)");
        bool dry = cl.Flag("dry-run");
        var outDir = cl.Value("out");
        if (outDir is null && !dry) throw new UsageException("import llamagen needs --out DIR (the run directory to write), or --dry-run");
        var options = new LlamaGenImportOptions
        {
            Key = cl.Value("key"), ImageSize = Int(cl, "image-size"), Data = cl.Value("data"), TokenizerRun = cl.Value("tokenizer"),
            BlockSize = Int(cl, "block-size"), Heads = Int(cl, "heads"), ConfigFile = cl.Value("config"), Sets = cl.Values("set").ToList(),
        };
        var source = cl.Positional[0];
        var r = LlamaGenImport.Run(source, dry ? null : outDir, options);
        string what = r.Kind == LlamaGenKind.Tokenizer ? "tokenizer" : "GPT";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{source}: a LlamaGen {what} ({r.Preset}, {r.Parameters:N0} parameters) in '{r.Entry}' [{string.Join(", ", r.Dtypes.Select(kv => $"{kv.Value} {kv.Key}"))}], step {r.Step}"));
        foreach (var n in r.Notes) Console.WriteLine($"  note: {n}");
        if (dry)
        {
            Console.WriteLine(r.ConfigJson);
            Console.WriteLine("dry run: nothing written");
            return 0;
        }
        Console.WriteLine($"wrote the run {Path.GetFullPath(outDir!)} (config.json, checkpoints/, import.json)");
        Console.WriteLine(r.Kind == LlamaGenKind.Tokenizer
            ? $"  use it: crt eval --tokenizer {outDir} …  |  crt sample --gpt GPT_RUN --tokenizer {outDir} --classes 207,360 --per-class 4"
            : $"  use it: crt sample --gpt {outDir} --tokenizer {options.TokenizerRun ?? "TOKENIZER_RUN"} --classes 207,360 --per-class 4 --cfg 4 --top-k 2000");
        return 0;
    }

    private static int? Int(CommandLine cl, string name) => cl.Long(name) is { } v
        ? v is > 0 and <= int.MaxValue ? (int)v : throw new UsageException($"--{name} {v}: must be a positive integer")
        : null;
}
