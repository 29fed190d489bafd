namespace Crt.Tensors.Autograd;

/// <summary>
/// One recorded op on the tape: its inputs and a closure that, given the gradient of the op's
/// output, accumulates gradients into whichever inputs require them.
/// </summary>
internal sealed class GradNode
{
    public readonly string Op;
    public readonly Tensor[] Inputs;
    public readonly Action<Tensor> Backward;

    public GradNode(string op, Tensor[] inputs, Action<Tensor> backward)
    {
        Op = op;
        Inputs = inputs;
        Backward = backward;
    }
}
