namespace Crt.Tensors;

// CONTRACT STUB — signatures are fixed; bodies are being implemented.
public static partial class Ops
{
    public static Tensor Softmax(Tensor x, int axis = -1) => throw new NotImplementedException("Softmax");
    public static Tensor LogSoftmax(Tensor x, int axis = -1) => throw new NotImplementedException("LogSoftmax");

    /// <summary>Mean cross-entropy of logits [N, C] against class indices (length N); targets equal to <paramref name="ignoreIndex"/> are skipped.</summary>
    public static Tensor CrossEntropy(Tensor logits, int[] targets, int ignoreIndex = -100) => throw new NotImplementedException("CrossEntropy");

    /// <summary>Per-row cross-entropy [N] (reduction 'none').</summary>
    public static Tensor CrossEntropyPerPosition(Tensor logits, int[] targets) => throw new NotImplementedException("CrossEntropyPerPosition");

    public static Tensor MseLoss(Tensor prediction, Tensor target) => throw new NotImplementedException("MseLoss");
    public static Tensor L1Loss(Tensor prediction, Tensor target) => throw new NotImplementedException("L1Loss");
}
