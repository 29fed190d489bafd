namespace Crt.Tensors;

// CONTRACT STUB — signatures are fixed; bodies are being implemented.
public static partial class Ops
{
    /// <summary>Rows of weight [V, D] for each index; the result has shape indexShape + [D].</summary>
    public static Tensor Embedding(Tensor weight, int[] indices, int[] indexShape) => throw new NotImplementedException("Embedding");

    /// <summary>Inverted dropout: zeroes with probability p and scales survivors by 1/(1−p); identity when not training.</summary>
    public static Tensor Dropout(Tensor x, float p, bool training, Rng? rng = null) => throw new NotImplementedException("Dropout");

    /// <summary>torch.index_select.</summary>
    public static Tensor IndexSelect(Tensor x, int axis, int[] index) => throw new NotImplementedException("IndexSelect");

    /// <summary>torch.gather: index has x's rank; out[i][j] = x[i][index[i][j]] along axis.</summary>
    public static Tensor Gather(Tensor x, int axis, int[] index, int[] indexShape) => throw new NotImplementedException("Gather");

    /// <summary>F.normalize: x / max(‖x‖₂, eps) along axis.</summary>
    public static Tensor L2Normalize(Tensor x, int axis = -1, float eps = 1e-12f) => throw new NotImplementedException("L2Normalize");
}
