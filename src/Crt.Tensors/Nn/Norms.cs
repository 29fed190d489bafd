namespace Crt.Tensors.Nn;

/// <summary>nn.GroupNorm with affine weight (ones) and bias (zeros); <see cref="Forward(Tensor, bool)"/> can fuse swish.</summary>
public sealed class GroupNorm : Module, ILayer
{
    public int NumGroups { get; }
    public int NumChannels { get; }
    public float Eps { get; }
    public Tensor? Weight { get; }
    public Tensor? Bias { get; }

    public GroupNorm(int numGroups, int numChannels, float eps = 1e-5f, bool affine = true)
    {
        if (numGroups <= 0 || numChannels % numGroups != 0)
            throw new ArgumentException($"GroupNorm: {numChannels} channels cannot be split into {numGroups} groups");
        NumGroups = numGroups; NumChannels = numChannels; Eps = eps;
        if (affine)
        {
            Weight = RegisterParameter("weight", Persistent(() => Tensor.Ones(numChannels)));
            Bias = RegisterParameter("bias", Persistent(() => Tensor.Zeros(numChannels)));
        }
    }

    public Tensor Forward(Tensor x) => Forward(x, swish: false);

    /// <summary>With <paramref name="swish"/>, returns GroupNorm(x)·σ(GroupNorm(x)) in one pass.</summary>
    public Tensor Forward(Tensor x, bool swish) => Ops.GroupNorm(x, NumGroups, Weight, Bias, Eps, swish);
}

/// <summary>
/// nn.BatchNorm2d with PyTorch's names: weight, bias, running_mean, running_var, num_batches_tracked
/// (a float counter here; PyTorch stores int64, which loads as float exactly).
/// </summary>
public sealed class BatchNorm2d : Module, ILayer
{
    public int NumFeatures { get; }
    public float Eps { get; }
    public float Momentum { get; }
    public Tensor? Weight { get; }
    public Tensor? Bias { get; }
    public Tensor RunningMean { get; }
    public Tensor RunningVar { get; }
    public Tensor NumBatchesTracked { get; }

    public BatchNorm2d(int numFeatures, float eps = 1e-5f, float momentum = 0.1f, bool affine = true)
    {
        if (numFeatures <= 0) throw new ArgumentException($"BatchNorm2d: features must be positive, got {numFeatures}");
        NumFeatures = numFeatures; Eps = eps; Momentum = momentum;
        if (affine)
        {
            Weight = RegisterParameter("weight", Persistent(() => Tensor.Ones(numFeatures)));
            Bias = RegisterParameter("bias", Persistent(() => Tensor.Zeros(numFeatures)));
        }
        RunningMean = RegisterBuffer("running_mean", Persistent(() => Tensor.Zeros(numFeatures)));
        RunningVar = RegisterBuffer("running_var", Persistent(() => Tensor.Ones(numFeatures)));
        NumBatchesTracked = RegisterBuffer("num_batches_tracked", Persistent(() => Tensor.Zeros()));
    }

    public Tensor Forward(Tensor x)
    {
        var y = Ops.BatchNorm2d(x, Weight, Bias, RunningMean, RunningVar, Training, Momentum, Eps);
        if (Training) NumBatchesTracked.Device.Kernels.Unary(Backends.UnaryOp.AddScalar, NumBatchesTracked, NumBatchesTracked, 1f);
        return y;
    }
}

/// <summary>nn.LayerNorm over the last dimension.</summary>
public sealed class LayerNorm : Module, ILayer
{
    public int NormalizedShape { get; }
    public float Eps { get; }
    public Tensor? Weight { get; }
    public Tensor? Bias { get; }

    public LayerNorm(int normalizedShape, float eps = 1e-5f, bool elementwiseAffine = true, bool bias = true)
    {
        if (normalizedShape <= 0) throw new ArgumentException($"LayerNorm: size must be positive, got {normalizedShape}");
        NormalizedShape = normalizedShape; Eps = eps;
        if (elementwiseAffine)
        {
            Weight = RegisterParameter("weight", Persistent(() => Tensor.Ones(normalizedShape)));
            if (bias) Bias = RegisterParameter("bias", Persistent(() => Tensor.Zeros(normalizedShape)));
        }
    }

    public Tensor Forward(Tensor x)
    {
        if (x.Rank == 0 || x.Shape[^1] != NormalizedShape)
            throw new ArgumentException($"LayerNorm: input {ShapeUtil.Format(x.Shape)} does not end in {NormalizedShape}");
        return Ops.LayerNorm(x, Weight, Bias, Eps);
    }
}

/// <summary>RMSNorm over the last dimension, as LlamaGen's (weight named "weight", initialised to ones, eps 1e-5).</summary>
public sealed class RMSNorm : Module, ILayer
{
    public int Dim { get; }
    public float Eps { get; }
    public Tensor Weight { get; }

    public RMSNorm(int dim, float eps = 1e-5f)
    {
        if (dim <= 0) throw new ArgumentException($"RMSNorm: size must be positive, got {dim}");
        Dim = dim; Eps = eps;
        Weight = RegisterParameter("weight", Persistent(() => Tensor.Ones(dim)));
    }

    public Tensor Forward(Tensor x)
    {
        if (x.Rank == 0 || x.Shape[^1] != Dim)
            throw new ArgumentException($"RMSNorm: input {ShapeUtil.Format(x.Shape)} does not end in {Dim}");
        return Ops.RmsNorm(x, Weight, Eps);
    }
}
