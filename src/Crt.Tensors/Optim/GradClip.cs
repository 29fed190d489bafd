using Crt.Tensors.Backends;

namespace Crt.Tensors.Optim;

public static class GradClip
{
    /// <summary>
    /// torch.nn.utils.clip_grad_norm_ (L2): total = √Σ‖g‖², every gradient is scaled by
    /// min(1, maxNorm / (total + 1e-6)). Returns the total norm before clipping. Parameters without a
    /// gradient are ignored. As in PyTorch, a non-finite total turns the gradients non-finite unless
    /// <paramref name="errorIfNonfinite"/> asks for an exception.
    /// </summary>
    public static float ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm, bool errorIfNonfinite = false)
    {
        var grads = parameters.Where(p => p.Grad is not null).Select(p => p.Grad!).ToList();
        if (grads.Count == 0) return 0f;
        double sumSq = 0;
        foreach (var g in grads) sumSq += g.Device.Kernels.SumOfSquares(g);
        float total = (float)Math.Sqrt(sumSq);
        if (errorIfNonfinite && !float.IsFinite(total))
            throw new InvalidOperationException($"ClipGradNorm: the total gradient norm is {total}");
        float coef = (float)(maxNorm / (total + 1e-6));
        if (coef < 1f || float.IsNaN(coef))
            foreach (var g in grads) g.Device.Kernels.Unary(UnaryOp.MulScalar, g, g, coef);
        return total;
    }
}
