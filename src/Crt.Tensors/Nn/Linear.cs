namespace Crt.Tensors.Nn;

/// <summary>nn.Linear: y = x·Wᵀ + b with weight [out, in] and bias [out], PyTorch's default init.</summary>
public sealed class Linear : Module, ILayer
{
    public int InFeatures { get; }
    public int OutFeatures { get; }
    public Tensor Weight { get; }
    public Tensor? Bias { get; }

    public Linear(int inFeatures, int outFeatures, bool bias = true, Rng? rng = null)
    {
        if (inFeatures <= 0 || outFeatures <= 0) throw new ArgumentException($"Linear: features must be positive, got in={inFeatures}, out={outFeatures}");
        rng ??= Rng.Default;
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = RegisterParameter("weight", Persistent(() => Tensor.Zeros(outFeatures, inFeatures)));
        // kaiming_uniform(a=√5) gives U(±1/√fan_in), the same bound as the bias.
        Init.KaimingUniform(Weight, rng, a: Math.Sqrt(5));
        if (bias)
        {
            Bias = RegisterParameter("bias", Persistent(() => Tensor.Zeros(outFeatures)));
            double bound = 1 / Math.Sqrt(inFeatures);
            Init.Uniform(Bias, rng, -bound, bound);
        }
    }

    public Tensor Forward(Tensor x) => Ops.Linear(x, Weight, Bias);
}

/// <summary>nn.Embedding: rows of weight [num, dim] for integer ids; weight ~ N(0, 1) as PyTorch.</summary>
public sealed class Embedding : Module
{
    public int NumEmbeddings { get; }
    public int EmbeddingDim { get; }
    public Tensor Weight { get; }

    public Embedding(int numEmbeddings, int embeddingDim, Rng? rng = null)
    {
        if (numEmbeddings <= 0 || embeddingDim <= 0) throw new ArgumentException($"Embedding: sizes must be positive, got {numEmbeddings}x{embeddingDim}");
        NumEmbeddings = numEmbeddings;
        EmbeddingDim = embeddingDim;
        Weight = RegisterParameter("weight", Persistent(() => Tensor.Zeros(numEmbeddings, embeddingDim)));
        Init.Normal(Weight, rng ?? Rng.Default);
    }

    /// <summary>Result shape is <paramref name="indexShape"/> + [dim].</summary>
    public Tensor Forward(int[] indices, params int[] indexShape) =>
        Ops.Embedding(Weight, indices, indexShape.Length == 0 ? new[] { indices.Length } : indexShape);
}

/// <summary>nn.Dropout: active only in training mode.</summary>
public sealed class Dropout : Module, ILayer
{
    public float P { get; }
    private readonly Rng? _rng;

    public Dropout(float p = 0.5f, Rng? rng = null)
    {
        if (p < 0 || p > 1) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout: probability {p} is outside [0, 1]");
        P = p;
        _rng = rng;
    }

    public Tensor Forward(Tensor x) => Training && P > 0 ? Ops.Dropout(x, P, true, _rng) : x;
}
