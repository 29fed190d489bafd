using Crt.Tensors;
using Crt.Tensors.Nn;

namespace Crt.Generator;

/// <summary>LlamaGen's LabelEmbedder: num_classes + 1 rows, the last one the null class for classifier-free guidance.</summary>
public sealed class LabelEmbedder : Module
{
    public int NumClasses { get; }
    public Embedding EmbeddingTable { get; }

    public LabelEmbedder(int numClasses, int dim, Rng rng)
    {
        NumClasses = numClasses;
        EmbeddingTable = RegisterModule("embedding_table", new Embedding(numClasses + 1, dim, rng));
    }

    public int NullClass => NumClasses;
}

/// <summary>
/// LlamaGen's class-conditional GPT (c2i Transformer). The sequence is [class embedding, tokens
/// z_0 … z_{N−2}]; the output at position i predicts z_i. Parameter names follow LlamaGen, so a
/// converted checkpoint loads by name.
/// </summary>
public sealed class Gpt : Module
{
    public GptConfig Config { get; }
    public LabelEmbedder ClassEmbedding { get; }
    public Embedding TokEmbeddings { get; }
    public ModuleList<TransformerBlock> Layers { get; }
    public RMSNorm Norm { get; }
    public Linear Output { get; }

    /// <summary>2D RoPE table [1 + N, headDim/2, 2]; row 0 (the class position) is all zeros, as LlamaGen.</summary>
    public Tensor FreqsCis { get; private set; }

    private readonly Dropout _tokDropout;
    private readonly Rng _rng;

    public Gpt(GptConfig config, Rng rng)
    {
        config.Validate();
        Config = config;
        _rng = rng;
        ClassEmbedding = RegisterModule("cls_embedding", new LabelEmbedder(config.NumClasses, config.Dim, rng));
        TokEmbeddings = RegisterModule("tok_embeddings", new Embedding(config.VocabSize, config.Dim, rng));
        _tokDropout = RegisterModule("tok_dropout", new Dropout(config.TokenDropout, rng));
        Layers = RegisterModule("layers", new ModuleList<TransformerBlock>(Enumerable.Range(0, config.Layers).Select(_ =>
            new TransformerBlock(config.Dim, config.Heads, config.FfnHidden, config.NormEps, config.ResidDropout, config.FfnDropout, rng))));
        Norm = RegisterModule("norm", new RMSNorm(config.Dim, config.NormEps));
        Output = RegisterModule("output", new Linear(config.Dim, config.VocabSize, bias: false, rng: rng));
        using (Tensor.NoGrad()) FreqsCis = Ops.Rope2dTable(config.GridSize, config.HeadDim, config.RopeBase, clsTokenNum: 1).Keep();
        InitializeWeights(rng);
    }

    /// <summary>LlamaGen's initialize_weights: Linear and Embedding weights N(0, 0.02), output zeroed.</summary>
    private void InitializeWeights(Rng rng)
    {
        foreach (var (_, m) in NamedModules())
        {
            if (m is Linear l) Init.Normal(l.Weight, rng, 0, Config.InitializerRange);
            else if (m is Embedding e) Init.Normal(e.Weight, rng, 0, Config.InitializerRange);
        }
        Init.Zeros(Output.Weight);
    }

    /// <summary>
    /// Teacher-forced forward: logits [B, 1 + T, K] for class ids [B] and input tokens [B, T]
    /// (T ≤ N − 1; training passes z_0 … z_{N−2}). In training mode each label is replaced by the null
    /// class with probability <see cref="GptConfig.ClassDropout"/>.
    /// </summary>
    public Tensor Forward(int[] classIds, int[] tokens, int batch, int inputLength)
    {
        if (classIds.Length != batch) throw new ArgumentException($"gpt: {classIds.Length} class ids for a batch of {batch}");
        if (tokens.Length != batch * inputLength) throw new ArgumentException($"gpt: {tokens.Length} tokens are not [{batch}, {inputLength}]");
        if (inputLength > Config.BlockSize - 1) throw new ArgumentException($"gpt: {inputLength} input tokens exceed the {Config.BlockSize - 1} a block of {Config.BlockSize} takes");
        var labels = Training ? DropLabels(classIds) : classIds;
        var x = Ops.Concat(new[] { EmbedClasses(labels), EmbedTokens(tokens, batch, inputLength) }, 1);
        return Head(RunLayers(_tokDropout.Forward(x), 0, null));
    }

    /// <summary>Class embeddings [B, 1, dim]; ids equal to <see cref="LabelEmbedder.NullClass"/> select the null row.</summary>
    public Tensor EmbedClasses(int[] classIds)
    {
        foreach (var c in classIds)
            if (c < 0 || c > Config.NumClasses)
                throw new ArgumentOutOfRangeException(nameof(classIds), $"gpt: class id {c} is outside 0..{Config.NumClasses - 1} (or {Config.NumClasses} for the null class)");
        return ClassEmbedding.EmbeddingTable.Forward(classIds, classIds.Length, 1);
    }

    public Tensor EmbedTokens(int[] tokens, int batch, int length)
    {
        foreach (var z in tokens)
            if ((uint)z >= (uint)Config.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"gpt: token {z} is outside the codebook of {Config.VocabSize}");
        return TokEmbeddings.Forward(tokens, batch, length);
    }

    /// <summary>
    /// Incremental forward for sampling: embeddings [B, S, dim] at sequence positions start … start+S−1,
    /// attending over what <paramref name="caches"/> (one per layer) already hold. Returns logits [B, S, K].
    /// </summary>
    public Tensor ForwardCached(Tensor embeddings, int start, KvCache[] caches)
    {
        if (caches.Length != Layers.Count) throw new ArgumentException($"gpt: {caches.Length} kv caches for {Layers.Count} layers");
        return Head(RunLayers(embeddings, start, caches));
    }

    private Tensor RunLayers(Tensor h, int start, KvCache[]? caches)
    {
        int t = h.Shape[1];
        if (!ReferenceEquals(FreqsCis.Device, h.Device)) // the model moved (Module.To): the table follows once
            using (TensorScope.Suspend()) FreqsCis = FreqsCis.To(h.Device);
        var freqs = Ops.Slice(FreqsCis, 0, start, start + t);
        for (int i = 0; i < Layers.Count; i++) h = Layers[i].Forward(h, freqs, caches?[i]);
        return h;
    }

    private Tensor Head(Tensor h) => Output.Forward(Norm.Forward(h));

    private int[] DropLabels(int[] classIds)
    {
        var labels = (int[])classIds.Clone();
        if (Config.ClassDropout > 0)
            for (int i = 0; i < labels.Length; i++)
                if (_rng.NextDouble() < Config.ClassDropout) labels[i] = ClassEmbedding.NullClass;
        return labels;
    }

    /// <summary>Mean next-token cross-entropy of a batch of full token grids [B, N] (the training loss).</summary>
    public Tensor Loss(int[] classIds, int[] grids, int batch)
    {
        int n = Config.BlockSize;
        if (grids.Length != batch * n) throw new ArgumentException($"gpt: {grids.Length} tokens are not {batch} grids of {n}");
        var inputs = new int[batch * (n - 1)];
        for (int b = 0; b < batch; b++) Array.Copy(grids, b * n, inputs, b * (n - 1), n - 1);
        var logits = Forward(classIds, inputs, batch, n - 1);
        return Ops.CrossEntropy(Ops.Reshape(logits, batch * n, Config.VocabSize), grids);
    }
}
