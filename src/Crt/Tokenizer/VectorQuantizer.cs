using Crt.Tensors;
using Crt.Tensors.Nn;

namespace Crt.Tokenizer;

/// <summary>What one quantizer pass produces.</summary>
/// <param name="Quantized">Straight-through z + sg(z_q − z), [B, C, H, W]: the decoder's input.</param>
/// <param name="Latents">The L2-normalised pre-quantization latents z the quantizer saw, raster order [B, H·W, C] (the CRT target).</param>
/// <param name="RawLatents">The same latents before L2 normalisation, [B, H·W, C] (for the raw-latent CRT ablation).</param>
/// <param name="Indices">Code index per position, [B·H·W] in raster order.</param>
/// <param name="VqLoss">mean((z_q − sg(z))²), training only.</param>
/// <param name="CommitLoss">β·mean((sg(z_q) − z)²), training only.</param>
/// <param name="EntropyLoss">LlamaGen's entropy loss times its ratio, when the ratio is non-zero and training.</param>
public sealed record QuantizerOutput(Tensor Quantized, Tensor Latents, Tensor RawLatents, int[] Indices, Tensor? VqLoss, Tensor? CommitLoss, Tensor? EntropyLoss);

/// <summary>
/// LlamaGen's VectorQuantizer with l2_norm = True: a cosine codebook. Latents and codebook rows are
/// L2-normalised; the code is argmax z·e_k (= argmin ‖z − e_k‖²); gradients pass straight through.
/// </summary>
public sealed class VectorQuantizer : Module
{
    /// <summary>Length of LlamaGen's rolling window of recent code assignments (its codebook_used buffer).</summary>
    public const int UsageWindow = 65536;

    public int CodebookSize { get; }
    public int CodeDim { get; }
    public float Beta { get; }
    public float EntropyLossRatio { get; }
    public Embedding Embedding { get; }
    public Tensor CodebookUsed { get; }
    private long _assignmentsSeen;

    public VectorQuantizer(int codebookSize, int codeDim, float beta, float entropyLossRatio, Rng rng, bool trackCodeUse = false)
    {
        CodebookSize = codebookSize;
        CodeDim = codeDim;
        Beta = beta;
        EntropyLossRatio = entropyLossRatio;
        Embedding = RegisterModule("embedding", new Embedding(codebookSize, codeDim, rng));
        Init.Uniform(Embedding.Weight, rng, -1.0 / codebookSize, 1.0 / codebookSize);
        using (Tensor.NoGrad()) Ops.L2Normalize(Embedding.Weight, -1).ReadOnlySpan.CopyTo(Embedding.Weight.Span);
        CodebookUsed = RegisterBuffer("codebook_used", Persistent(() => Tensor.Zeros(UsageWindow)));
        if (trackCodeUse) CodeLastUsed = RegisterBuffer("code_last_used", Persistent(() => Tensor.Zeros(codebookSize)));
    }

    /// <summary>The normalised codebook [K, C] (taped, so gradients reach the embedding weights).</summary>
    public Tensor NormalizedCodebook() => Ops.L2Normalize(Embedding.Weight, -1);

    public QuantizerOutput Forward(Tensor z)
    {
        if (z.Rank != 4 || z.Shape[1] != CodeDim)
            throw new ArgumentException($"quantizer: expected latents [B, {CodeDim}, H, W], got {ShapeUtil.Format(z.Shape)}");
        int b = z.Shape[0], h = z.Shape[2], w = z.Shape[3], n = b * h * w;
        var flat = Ops.Reshape(Ops.Permute(z, 0, 2, 3, 1), n, CodeDim);
        var zn = Ops.L2Normalize(flat, -1);
        var codebook = NormalizedCodebook();
        int[] indices;
        Tensor scores;
        using (Tensor.NoGrad())
        {
            scores = Ops.MatMul(zn, Ops.Transpose(codebook, 0, 1)); // [N, K] cosine similarities
            indices = Ops.ArgMax(scores, -1);
        }
        var zq = Ops.IndexSelect(codebook, 0, indices);
        Tensor? vq = null, commit = null, entropy = null;
        if (Training)
        {
            vq = Ops.MseLoss(zq, zn.Detach());
            commit = Ops.MulScalar(Ops.MseLoss(zq.Detach(), zn), Beta);
            if (EntropyLossRatio != 0) entropy = Ops.MulScalar(EntropyLoss(zn, codebook), EntropyLossRatio);
            RecordUsage(indices);
        }
        var st = Ops.Add(zn, Ops.Sub(zq, zn).Detach());
        var quantized = Ops.Permute(Ops.Reshape(st, b, h, w, CodeDim), 0, 3, 1, 2);
        return new QuantizerOutput(quantized, Ops.Reshape(zn, b, h * w, CodeDim), Ops.Reshape(flat, b, h * w, CodeDim), indices, vq, commit, entropy);
    }

    /// <summary>
    /// LlamaGen's compute_entropy_loss on the affinity −‖z − e‖² = 2·z·e − 2 (unit vectors), temperature
    /// 0.01: mean per-sample entropy minus the entropy of the average assignment.
    /// </summary>
    private static Tensor EntropyLoss(Tensor zn, Tensor codebook)
    {
        var affinity = Ops.MulScalar(Ops.AddScalar(Ops.MulScalar(Ops.MatMul(zn, Ops.Transpose(codebook, 0, 1)), 2f), -2f), 1f / 0.01f);
        var probs = Ops.Softmax(affinity, -1);
        var logProbs = Ops.LogSoftmax(affinity, -1);
        var avg = Ops.Mean(probs, 0);
        var avgEntropy = Ops.Neg(Ops.Sum(Ops.Mul(avg, Ops.Log(Ops.AddScalar(avg, 1e-5f)))));
        var sampleEntropy = Ops.Neg(Ops.Mean(Ops.Sum(Ops.Mul(probs, logProbs), -1)));
        return Ops.Sub(sampleEntropy, avgEntropy);
    }

    private void RecordUsage(int[] indices)
    {
        int len = Math.Min(indices.Length, UsageWindow);
        if (!CodebookUsed.Device.IsCpu)
        {
            // On a device: the window shifted and the newest codes appended there, from the host's indices.
            var newest = Tensor.FromArray(indices.AsSpan(indices.Length - len).ToArray().Select(i => (float)i).ToArray(), len).To(CodebookUsed.Device);
            CodebookUsed.CopyFrom(Ops.Concat([Ops.Slice(CodebookUsed, 0, len, UsageWindow), newest], 0));
            _assignmentsSeen += indices.Length;
            return;
        }
        var used = CodebookUsed.Span;
        used[len..].CopyTo(used); // shift left, as LlamaGen's codebook_used[:-len] = codebook_used[len:]
        for (int i = 0; i < len; i++) used[UsageWindow - len + i] = indices[indices.Length - len + i];
        _assignmentsSeen += indices.Length;
    }

    /// <summary>
    /// Fraction of the codebook among the most recent assignments (up to <see cref="UsageWindow"/>).
    /// Unlike LlamaGen, slots not yet written are not counted as uses of code 0. After loading a
    /// checkpoint the whole window counts as written.
    /// </summary>
    public double RecentUsage()
    {
        int valid = (int)Math.Min(_assignmentsSeen, UsageWindow);
        var seen = new bool[CodebookSize];
        var used = CodebookUsed.ToArray(); // from a device, an explicit copy (this runs when metrics are logged)
        int unique = 0;
        for (int i = UsageWindow - valid; i < UsageWindow; i++)
        {
            int code = (int)used[i];
            if ((uint)code < (uint)CodebookSize && !seen[code]) { seen[code] = true; unique++; }
        }
        return unique / (double)CodebookSize;
    }

    /// <summary>
    /// The training step at which each code was last chosen ([K]; 0: not yet), kept only for dead-code
    /// re-initialisation (<see cref="VqConfig.DeadCodeRestart"/>) and saved with the weights so a resumed run restarts
    /// the same codes.
    /// </summary>
    public Tensor? CodeLastUsed { get; }

    /// <summary>Records that the codes in <paramref name="indices"/> were chosen at training step <paramref name="step"/>.</summary>
    public void NoteCodesUsed(int[] indices, long step)
    {
        var buffer = CodeLastUsedOrThrow();
        if (buffer.Device.IsCpu)
        {
            // Every training step: written in place, no copies.
            var span = buffer.Span;
            foreach (int c in indices) span[c] = step;
            return;
        }
        var last = buffer.ToArray();
        foreach (int c in indices) last[c] = step;
        buffer.CopyFrom(Tensor.FromArray(last, CodebookSize));
    }

    /// <summary>
    /// Re-initialises every code not chosen in the last <paramref name="window"/> steps to one of
    /// <paramref name="latents"/> ([N, C], the normalised latents of the current batch), drawn at random without
    /// replacement while latents last, and counts it as chosen now (so it gets a full window to be used). Each row
    /// becomes a unit vector, as every row is after normalisation. Returns the codes re-initialised, in increasing order.
    /// </summary>
    public int[] RestartDeadCodes(Tensor latents, long step, int window, Rng rng)
    {
        if (latents.Rank != 2 || latents.Shape[1] != CodeDim || latents.Shape[0] == 0)
            throw new ArgumentException($"quantizer: dead codes restart from latents [N, {CodeDim}], got {ShapeUtil.Format(latents.Shape)}");
        var last = CodeLastUsedOrThrow().ToArray();
        var dead = Enumerable.Range(0, CodebookSize).Where(k => step - last[k] >= window).ToArray();
        if (dead.Length == 0) return dead;

        var z = latents.ToArray();
        int n = latents.Shape[0];
        var order = Enumerable.Range(0, n).ToArray();
        var weight = Embedding.Weight.ToArray();
        for (int i = 0; i < dead.Length; i++)
        {
            int pick;
            if (i < n) { int j = i + rng.NextInt(n - i); (order[i], order[j]) = (order[j], order[i]); pick = order[i]; }
            else pick = rng.NextInt(n);
            Array.Copy(z, pick * CodeDim, weight, dead[i] * CodeDim, CodeDim);
            last[dead[i]] = step;
        }
        Embedding.Weight.CopyFrom(Tensor.FromArray(weight, CodebookSize, CodeDim));
        CodeLastUsed!.CopyFrom(Tensor.FromArray(last, CodebookSize));
        return dead;
    }

    private Tensor CodeLastUsedOrThrow() => CodeLastUsed
        ?? throw new InvalidOperationException("quantizer: made without dead-code tracking (model.dead_code_restart is 0)");

    /// <summary>Marks the usage window as fully written (its contents came from a checkpoint).</summary>
    public void AssumeUsageWindowFilled() => _assignmentsSeen = UsageWindow;

    /// <summary>Codebook rows for code indices, as a latent grid [B, C, H, W] (LlamaGen's get_codebook_entry).</summary>
    public Tensor Lookup(int[] codes, int batch, int height, int width)
    {
        if (codes.Length != batch * height * width)
            throw new ArgumentException($"quantizer: {codes.Length} codes are not [{batch}, {height}, {width}]");
        foreach (var c in codes)
            if ((uint)c >= (uint)CodebookSize)
                throw new ArgumentOutOfRangeException(nameof(codes), $"quantizer: code {c} is outside the codebook of {CodebookSize}");
        var rows = Ops.IndexSelect(NormalizedCodebook(), 0, codes);
        return Ops.Permute(Ops.Reshape(rows, batch, height, width, CodeDim), 0, 3, 1, 2);
    }
}
