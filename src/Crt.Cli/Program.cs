using System.Runtime.InteropServices;
using Crt.Training;

namespace Crt.Cli;

public static class Program
{
    private const string Usage = """
        crt — Causally Regularized Tokenization: VQ tokenizers, a class-conditional GPT over their tokens, and the measurements between.

        usage: crt <command> [options]      (crt <command> --help for its options)

        commands:
          demo              the whole pipeline on the built-in dataset, baseline vs CRT, ending in report.html
          tokenizer train   train a VQ tokenizer (baseline or with the CRT regulariser)
          tokenizer eval    reconstruction metrics of a trained tokenizer on a split
          tokenize          run a trained tokenizer over a dataset and write a token store
          gpt train         train the class-conditional GPT on a token store
          gpt eval          validation cross-entropy per token and per position, bits per image
          sample            sample images per class with a GPT and its tokenizer (KV cache, CFG, top-k/p)
          eval              rFID of a tokenizer, or FID / IS / precision-recall of GPT samples, under the feature net or InceptionV3-FID
          features train    train (and cache) the feature network used for FID on a dataset
          features check    FID of real vs real, blurred and noised images: does the feature network rank damage?
          report            rebuild a run's report.html, or compare runs side by side
          sweep             the scaling study of a plan: tokenizers × GPT sizes × training lengths, power-law fits, report
          import llamagen   turn a LlamaGen .pt checkpoint (VQ tokenizer or c2i GPT) into a crt run, read without running any of it
          doctor            what crt finds on this machine (CPU, SIMD, threads, image decoding, GPUs) and a self-check of a few seconds
        """;

    public static int Main(string[] args)
    {
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            if (cancel.IsCancellationRequested) return; // a second Ctrl-C ends the process at once
            e.Cancel = true;
            cancel.Cancel();
            Console.Error.WriteLine("\ncrt: stopping after this step (Ctrl-C again to abort without saving)...");
        };
        // SIGTERM (`kill`, `timeout`, a job scheduler's stop) is taken as the first Ctrl-C: stop after this step with a
        // checkpoint. A second SIGTERM, like SIGKILL, ends the process at once.
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
        {
            if (cancel.IsCancellationRequested) return;
            signal.Cancel = true;
            cancel.Cancel();
            Console.Error.WriteLine("\ncrt: SIGTERM: stopping after this step (SIGTERM again to abort without saving)...");
        });
        try
        {
            if (args.Length == 0 || args[0] is "--help" or "-h" or "help") { Console.WriteLine(Usage); return args.Length == 0 ? 2 : 0; }
            return (args[0], args.Length > 1 ? args[1] : null) switch
            {
                ("tokenizer", "train") => TokenizerCommands.Train(args[2..], cancel.Token),
                ("tokenizer", "eval") => TokenizerCommands.Eval(args[2..]),
                ("tokenize", _) => TokenizerCommands.Tokenize(args[1..]),
                ("gpt", "train") => GptCommands.Train(args[2..], cancel.Token),
                ("gpt", "eval") => GptCommands.Eval(args[2..]),
                ("sample", _) => GptCommands.Sample(args[1..]),
                ("demo", _) => DemoCommand.Run(args[1..], cancel.Token),
                ("eval", _) => EvalCommands.Eval(args[1..]),
                ("features", "train") => FeaturesCommands.Train(args[2..]),
                ("features", "check") => FeaturesCommands.Check(args[2..]),
                ("report", _) => ReportCommand.Run(args[1..]),
                ("sweep", _) => SweepCommand.Run(args[1..], cancel.Token),
                ("import", "llamagen") => ImportCommand.LlamaGen(args[2..]),
                ("doctor", _) => DoctorCommand.Run(args[1..]),
                ("import", "--help" or "-h") => ImportCommand.LlamaGen(new[] { "--help" }),
                ("import", _) => throw new UsageException("import: expected 'import llamagen FILE.pt --out DIR'"),
                ("gpt", _) => throw new UsageException("gpt: expected 'gpt train' or 'gpt eval'"),
                ("tokenizer", _) => throw new UsageException("tokenizer: expected 'tokenizer train' or 'tokenizer eval'"),
                ("features", _) => throw new UsageException("features: expected 'features train' or 'features check'"),
                _ => throw new UsageException($"unknown command '{args[0]}'"),
            };
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"crt: {e.Message} (see crt --help)");
            return 2;
        }
        catch (Exception e) when (ReportedError.IsClear(e))
        {
            Console.Error.WriteLine($"crt: error: {e.Message}");
            return 1;
        }
    }
}
