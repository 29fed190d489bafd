using Crt.Regularizer;
using Crt.Tensors;
using Crt.Tensors.Optim;
using Crt.Tokenizer;

namespace Crt.Bench.Workloads;

/// <summary>
/// One vq-tiny training step with the CRT regulariser, batch 32 of 1×32×32 images: forward, MSE +
/// codebook + commitment + λ·CRT loss, backward, grad clipping and the two Adam steps — the inner loop
/// of `crt tokenizer train` without data loading. FLOPs: 3× the forward matrix products, counted.
/// </summary>
public sealed class TokenizerStepWorkload : IWorkload
{
    private VqModel _vq = null!;
    private CausalRegularizer _crt = null!;
    private Adam _optVq = null!;
    private AdamW _optCrt = null!;
    private Tensor _x = null!;
    private double _flops;

    public string Name => "vqtiny-crt-train-step-b32";
    public double Flops => _flops;

    public void Setup()
    {
        var rng = new Rng(0);
        _vq = new VqModel(VqConfig.Preset("vq-tiny"), rng);
        _crt = new CausalRegularizer(new CrtConfig(), 8, 512, 8, rng);
        _vq.To(BenchDevice.Current);
        _crt.To(BenchDevice.Current);
        _optVq = new Adam(_vq.NamedParameters(), 1e-4, 0.9, 0.95, 1e-8);
        _optCrt = new AdamW(_crt.NamedParameters(), 1e-4, 0.9, 0.95, 1e-8, 0);
        _x = rng.Uniform(new[] { 32 * BenchDevice.BatchScale, 1, 32, 32 }, -1, 1).To(BenchDevice.Current);
        using var fc = FlopCounter.Begin();
        using (TensorScope.Begin()) Step();
        _flops = 3 * fc.Flops;
    }

    public void Run()
    {
        using var scope = TensorScope.Begin();
        Step();
    }

    private void Step()
    {
        _optVq.ZeroGrad();
        _optCrt.ZeroGrad();
        var (rec, q) = _vq.Forward(_x);
        var loss = Ops.Add(Ops.Add(Ops.MseLoss(rec, _x), q.VqLoss!), q.CommitLoss!);
        loss = Ops.Add(loss, Ops.MulScalar(_crt.Loss(q.Latents, q.Indices), 2f));
        loss.Backward();
        GradClip.ClipGradNorm(_vq.Parameters(), 1.0);
        GradClip.ClipGradNorm(_crt.Parameters(), 1.0);
        _optVq.Step();
        _optCrt.Step();
    }
}
