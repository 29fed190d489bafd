using Crt.Generator;
using Crt.Tensors;
using Crt.Tensors.Optim;
using Crt.Training;

namespace Crt.Bench.Workloads;

/// <summary>
/// One GPT training step as `crt gpt train` takes it on vq-tiny tokens (V 512, 10 classes, 8×8 tokens): gpt-t4 at
/// batch 32 (W2), and gpt-t2 at batch 64, the step `crt demo` trains its two GPTs with (44% of the demo's wall time on the Intel Xeon @ 2.80GHz with AVX-512, run at 256 bits).
/// The preset's dropouts (token, residual, FFN 0.1) and class dropout 0.1 on: forward, mean next-token cross-entropy,
/// backward, grad clip, AdamW — betas, weight decay (≥2-D weights only) and clip from GptTrainConfig's defaults (the
/// learning rate does not change the cost) — without data loading. FLOPs: 3× the forward matrix products, counted.
/// </summary>
public sealed class GptTrainStepWorkload(string preset, int batch) : IWorkload
{
    public static IEnumerable<IWorkload> All() => new IWorkload[] { new GptTrainStepWorkload("gpt-t4", 32), new GptTrainStepWorkload("gpt-t2", 64) };

    private int Batch => batch * BenchDevice.BatchScale;
    private Gpt _model = null!;
    private AdamW _opt = null!;
    private int[] _classes = null!, _grids = null!;
    private double _gradClip, _flops;

    public string Name => $"{preset}-train-step-b{batch}";
    public double Flops => _flops;

    /// <summary>A preset shaped for vq-tiny's tokens, as the trainer builds it from a token store.</summary>
    public static GptConfig TinyTokensConfig(string preset = "gpt-t4") => GptConfig.Preset(preset) with { VocabSize = 512, NumClasses = 10, BlockSize = 64 };

    public void Setup()
    {
        var rng = new Rng(0);
        var train = new GptTrainConfig();
        _model = new Gpt(TinyTokensConfig(preset), rng);
        _model.To(BenchDevice.Current);
        _opt = new AdamW(ParamGroup.DecayAndNoDecay(_model.NamedParameters(), train.WeightDecay), train.Lr, train.Beta1, train.Beta2, 1e-8);
        _gradClip = train.GradClip;
        (_classes, _grids) = GptBench.RandomBatch(rng, _model.Config, Batch);
        using var fc = FlopCounter.Begin();
        using (TensorScope.Begin()) Run();
        _flops = 3 * fc.Flops;
    }

    public void Run()
    {
        _opt.ZeroGrad();
        var loss = _model.Loss(_classes, _grids, Batch);
        loss.Backward();
        GradClip.ClipGradNorm(_model.Parameters(), _gradClip);
        _opt.Step();
    }
}

/// <summary>
/// gpt-b (111M parameters: V 16384, 1000 classes, 16×16 tokens) forward + backward at batch 2, the preset's
/// dropouts on, no optimizer step (gradients cleared each iteration). FLOPs: 3× the forward matrix products.
/// </summary>
public sealed class GptBaseFwdBwdWorkload : IWorkload
{
    public static int Batch => 2 * BenchDevice.BatchScale;
    private Gpt _model = null!;
    private int[] _classes = null!, _grids = null!;
    private double _flops;

    public string Name => "gpt-b-fwdbwd-b2";
    public double Flops => _flops;

    public void Setup()
    {
        var rng = new Rng(0);
        _model = new Gpt(GptConfig.Preset("gpt-b"), rng);
        _model.To(BenchDevice.Current);
        (_classes, _grids) = GptBench.RandomBatch(rng, _model.Config, Batch);
        using var fc = FlopCounter.Begin();
        using (TensorScope.Begin()) Run();
        _flops = 3 * fc.Flops;
    }

    public void Run()
    {
        _model.ZeroGrad();
        _model.Loss(_classes, _grids, Batch).Backward();
    }
}

/// <summary>
/// `crt sample`'s inner loop: 64 images (8×8 tokens, gpt-t4 at V 512, 10 classes) drawn by
/// Sampler.Generate with classifier-free guidance 2.0 (conditional and null-class halves batched, 128
/// rows), the KV cache, temperature 1 and top-k / top-p off (the sampler's defaults). No decoding to
/// pixels. FLOPs: the 64 incremental forwards' matrix products, counted.
/// </summary>
public sealed class SampleWorkload : IWorkload
{
    public static int Images => 64 * BenchDevice.BatchScale;
    private Gpt _model = null!;
    private int[] _classes = null!;
    private readonly SamplingOptions _options = new() { CfgScale = 2f };
    private double _flops;

    public string Name => "sample-64-cfg2-kvcache";
    public double Flops => _flops;

    public void Setup()
    {
        var rng = new Rng(0);
        _model = new Gpt(GptTrainStepWorkload.TinyTokensConfig(), rng); // fresh (zero output layer: uniform draws; the cost is the same)
        _model.To(BenchDevice.Current);
        _classes = Enumerable.Range(0, Images).Select(i => i % _model.Config.NumClasses).ToArray();
        using var fc = FlopCounter.Begin();
        Run();
        _flops = fc.Flops;
    }

    public void Run() => Sampler.Generate(_model, _classes, _options, new Rng(1));
}

/// <summary>
/// Interactive sampling from a LlamaGen-sized model: gpt-b (111M parameters, V 16384, 1000 classes) drawing one image with
/// classifier-free guidance 2.0 (2 rows: conditional and null class) and the KV cache, for the first 16 of its tokens
/// (block size 16, a 4×4 grid; the weights are gpt-b's, only the cache is shorter). Each step streams all the weights for two rows,
/// so this measures what the small-batch matrix products do with weights, not arithmetic. FLOPs: the incremental
/// forwards' matrix products, counted.
/// </summary>
public sealed class SampleGptBWorkload : IWorkload
{
    private Gpt _model = null!;
    private readonly SamplingOptions _options = new() { CfgScale = 2f };
    private double _flops;

    public string Name => "sample-gptb-1-cfg2-16tok";
    public double Flops => _flops;

    public void Setup()
    {
        _model = new Gpt(GptConfig.Preset("gpt-b") with { BlockSize = 16 }, new Rng(0));
        _model.To(BenchDevice.Current);
        using var fc = FlopCounter.Begin();
        Run();
        _flops = fc.Flops;
    }

    public void Run() => Sampler.Generate(_model, [207], _options, new Rng(1));
}

internal static class GptBench
{
    /// <summary>Random class ids [B] and token grids [B, N].</summary>
    public static (int[] Classes, int[] Grids) RandomBatch(Rng rng, GptConfig c, int batch) =>
        (Enumerable.Range(0, batch).Select(_ => rng.NextInt(c.NumClasses)).ToArray(),
         Enumerable.Range(0, batch * c.BlockSize).Select(_ => rng.NextInt(c.VocabSize)).ToArray());
}
