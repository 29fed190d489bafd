using Crt.Tensors;
using Crt.Tokenizer;

namespace Crt.Bench.Workloads;

/// <summary>
/// The vq-f16 tokenizer (LlamaGen's VQ-16, 71.9M parameters) on one 3×256×256 image, no gradients, eval
/// mode: encode, quantize (L2-normalised latents against the L2-normalised 16384×8 codebook, nearest code
/// by cosine), decode the straight-through latents back to an image. FLOPs: the matrix products, counted.
/// </summary>
public sealed class VqF16CodecWorkload : IWorkload
{
    private VqModel _vq = null!;
    private Tensor _x = null!;
    private double _flops;

    public string Name => "vqf16-encode-quantize-decode-256";
    public double Flops => _flops;

    public void Setup()
    {
        var rng = new Rng(0);
        _vq = new VqModel(VqConfig.Preset("vq-f16"), rng);
        _vq.Eval();
        _vq.To(BenchDevice.Current);
        _x = rng.Uniform(new[] { BenchDevice.BatchScale, 3, 256, 256 }, -1, 1).To(BenchDevice.Current);
        using var fc = FlopCounter.Begin();
        using (TensorScope.Begin()) Run();
        _flops = fc.Flops;
    }

    public void Run()
    {
        using var noGrad = Tensor.NoGrad();
        var q = _vq.Encode(_x);
        _vq.Decode(q.Quantized);
    }
}
