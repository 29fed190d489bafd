using Crt.Generator;
using Crt.Tensors;
using Crt.Tensors.Nn;

namespace Crt.Regularizer;

/// <summary>
/// The CRT regulariser g: a small causal transformer over the raster sequence of tokenizer latents,
/// built from the stage-2 GPT's block (RMSNorm, causal multi-head attention with 2D RoPE, SwiGLU).
/// The input at position i is latent h_{i−1} (a learned BOS vector at position 0); the output at i
/// predicts h_i. Its loss, weighted by λ(t), is added to the tokenizer loss, so the encoder learns
/// latents that are easy to predict causally.
/// </summary>
public sealed class CausalRegularizer : Module
{
    public CrtConfig Config { get; }
    public int CodeDim { get; }
    public int CodebookSize { get; }
    public Linear InputProj { get; }
    public Tensor Bos { get; }
    public ModuleList<TransformerBlock> Layers { get; }
    public RMSNorm Norm { get; }
    public Linear OutputProj { get; }
    private Tensor _freqs;

    public CausalRegularizer(CrtConfig config, int codeDim, int codebookSize, int gridSize, Rng rng)
    {
        config.Validate();
        Config = config;
        CodeDim = codeDim;
        CodebookSize = codebookSize;
        int d = config.Width;
        InputProj = RegisterModule("input_proj", new Linear(codeDim, d, rng: rng));
        Bos = RegisterParameter("bos", Persistent(() => Tensor.Zeros(1, 1, d)));
        Init.Normal(Bos, rng, 0, 0.02);
        int hidden = GptConfig.RoundUp(2 * 4 * d / 3, 32);
        Layers = RegisterModule("layers", new ModuleList<TransformerBlock>(Enumerable.Range(0, config.Depth)
            .Select(_ => new TransformerBlock(d, config.Heads, hidden, 1e-5f, 0f, 0f, rng))));
        Norm = RegisterModule("norm", new RMSNorm(d));
        int outDim = config.LossForm == CrtLossForm.L2 ? codeDim : codebookSize;
        OutputProj = RegisterModule("output_proj", new Linear(d, outDim, rng: rng));
        // [choice] the BOS position gets the all-zero RoPE row, as the GPT's class position does.
        using (Tensor.NoGrad()) _freqs = Ops.Rope2dTable(gridSize, d / config.Heads, 10000f, clsTokenNum: 1).Keep();
    }

    /// <summary>
    /// Predictions for every position from the latents before it: [B, N, code_dim] (L2 form) or logits
    /// [B, N, K] (cross-entropy form), for latents [B, N, code_dim] in raster order.
    /// </summary>
    public Tensor Predict(Tensor latents)
    {
        if (latents.Rank != 3 || latents.Shape[2] != CodeDim)
            throw new ArgumentException($"crt: expected latents [B, N, {CodeDim}], got {ShapeUtil.Format(latents.Shape)}");
        int b = latents.Shape[0], n = latents.Shape[1];
        if (n > _freqs.Shape[0]) throw new ArgumentException($"crt: {n} positions exceed the {_freqs.Shape[0]} of the regulariser's grid");
        var shifted = Ops.Slice(latents, 1, 0, n - 1);
        var bos = Ops.Mul(Tensor.Full(Bos.Device, 1f, b, 1, Config.Width), Bos); // broadcast BOS over the batch (taped)
        var h = Ops.Concat(new[] { bos, InputProj.Forward(shifted) }, 1);
        if (!ReferenceEquals(_freqs.Device, latents.Device)) // the module moved (Module.To): the table follows once
            using (TensorScope.Suspend()) _freqs = _freqs.To(latents.Device);
        var freqs = Ops.Slice(_freqs, 0, 0, n);
        foreach (var layer in Layers) h = layer.Forward(h, freqs);
        return OutputProj.Forward(Norm.Forward(h));
    }

    /// <summary>
    /// L_crt: mean over batch, positions and dims of (g(h_&lt;i) − h_i)² (L2 form), or the mean
    /// cross-entropy of the next code index. <paramref name="latents"/> are the quantizer's
    /// normalised (or, by switch, raw) latents; <paramref name="indices"/> their codes in raster order.
    /// </summary>
    public Tensor Loss(Tensor latents, int[] indices)
    {
        var prediction = Predict(latents);
        if (Config.LossForm == CrtLossForm.CrossEntropy)
            return Ops.CrossEntropy(Ops.Reshape(prediction, indices.Length, CodebookSize), indices);
        var target = Config.DetachTarget ? latents.Detach() : latents;
        return Ops.MseLoss(prediction, target);
    }
}
