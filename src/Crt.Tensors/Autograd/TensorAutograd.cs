using Crt.Tensors.Autograd;

namespace Crt.Tensors;

public sealed partial class Tensor
{
    /// <summary>Shorthand for <see cref="GradMode.NoGrad"/>.</summary>
    public static IDisposable NoGrad() => GradMode.NoGrad();

    /// <summary>True when an op on these inputs must be recorded.</summary>
    internal static bool NeedsGrad(Tensor a) => GradMode.Enabled && a.RequiresGrad;
    internal static bool NeedsGrad(Tensor a, Tensor b) => GradMode.Enabled && (a.RequiresGrad || b.RequiresGrad);
    internal static bool NeedsGrad(params Tensor?[] ts)
    {
        if (!GradMode.Enabled) return false;
        foreach (var t in ts) if (t is { RequiresGrad: true }) return true;
        return false;
    }

    /// <summary>
    /// Records <paramref name="output"/> as produced by <paramref name="op"/> from <paramref name="inputs"/>,
    /// if any input requires grad and grad mode is on. <paramref name="backward"/> receives the output's
    /// gradient and must call <see cref="AccumulateGrad"/> on the inputs that require it.
    /// </summary>
    internal static Tensor Record(string op, Tensor output, Tensor?[] inputs, Action<Tensor> backward)
    {
        if (!NeedsGrad(inputs)) return output;
        var live = new List<Tensor>(inputs.Length);
        foreach (var t in inputs) if (t is { RequiresGrad: true }) live.Add(t);
        output.RequiresGrad = true;
        output.Node = new GradNode(op, live.ToArray(), backward);
        return output;
    }

    /// <summary>True for the gradient handed to <see cref="Backward"/>: the caller's storage, never adopted as an input's gradient.</summary>
    internal bool BorrowedGradient { get; private set; }

    /// <summary>
    /// Adds <paramref name="g"/> into this tensor's gradient. <paramref name="owned"/> says the caller
    /// made <paramref name="g"/> fresh for this call, so it may be adopted without a copy.
    /// </summary>
    internal void AccumulateGrad(Tensor g, bool owned = true)
    {
        if (!RequiresGrad) return;
        if (!ShapeUtil.SameShape(g.Shape, Shape))
            throw new InvalidOperationException($"internal: gradient {ShapeUtil.Format(g.Shape)} for tensor {ShapeUtil.Format(Shape)} ({Node?.Op ?? "leaf"})");
        if (Grad is null)
        {
            // A leaf's gradient outlives the step's scope (the optimizer reads it, ZeroGrad clears it).
            // The buffer ZeroGrad retired last step is refilled, so training allocates no gradient memory.
            if (IsLeaf && g.Pooled)
            {
                if (_retiredGrad is { } buffer && ShapeUtil.SameShape(buffer.Shape, Shape))
                {
                    Device.Kernels.Copy(g, buffer);
                    Grad = buffer;
                    _retiredGrad = null;
                }
                else using (TensorScope.Suspend()) Grad = g.Clone();
            }
            else Grad = owned ? g : g.Clone();
            return;
        }
        Device.Kernels.AddInPlace(Grad, g);
    }

    /// <summary>
    /// Back-propagates from this tensor. Without <paramref name="gradient"/>, the tensor must hold one
    /// element and its gradient is 1. Gradients accumulate into every leaf that requires them.
    /// </summary>
    public void Backward(Tensor? gradient = null)
    {
        if (!RequiresGrad)
            throw new InvalidOperationException("Backward: this tensor does not require grad (no input of the computation had RequiresGrad, or it was computed under NoGrad)");
        if (gradient is null)
        {
            if (Size != 1) throw new InvalidOperationException($"Backward: gradient can be implied only for one-element outputs, this one is {ShapeUtil.Format(Shape)}");
            gradient = Full(Device, 1f, Shape);
        }
        else if (!ShapeUtil.SameShape(gradient.Shape, Shape))
            throw new ArgumentException($"Backward: gradient {ShapeUtil.Format(gradient.Shape)} does not match output {ShapeUtil.Format(Shape)}");

        var order = TopologicalOrder(this);
        if (IsLeaf || Grad is not null) AccumulateGrad(gradient, owned: false);
        else
        {
            // The caller's gradient is read in place, not copied (a full pass over it, as large as the output):
            // backward closures only read the gradient they receive, and one that hands it on (reshape) checks
            // BorrowedGradient so that no input adopts the caller's storage as its own gradient.
            Grad = gradient.View(gradient.Shape);
            Grad.BorrowedGradient = true;
        }
        using var noGrad = GradMode.NoGrad(); // backward closures compute with plain kernels, never taped
        for (int i = order.Count - 1; i >= 0; i--)
        {
            var t = order[i];
            var node = t.Node!;
            var g = t.Grad;
            if (g is null) continue; // nothing flowed into this branch
            node.Backward(g);
            // Interior gradients are not kept (as in PyTorch); leaves keep theirs.
            t.Grad = null;
        }
    }

    /// <summary>Interior tensors reachable from <paramref name="root"/>, each after all of its inputs.</summary>
    private static List<Tensor> TopologicalOrder(Tensor root)
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor t, int next)>();
        if (root.Node is null) return order;
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (t, next) = stack.Pop();
            var inputs = t.Node!.Inputs;
            if (next < inputs.Length)
            {
                stack.Push((t, next + 1));
                var child = inputs[next];
                if (child.Node is not null && visited.Add(child)) stack.Push((child, 0));
            }
            else order.Add(t);
        }
        return order;
    }

    private Tensor? _retiredGrad;

    /// <summary>
    /// Clears this tensor's gradient (Grad becomes null). The old gradient's storage is kept and refilled
    /// by the next backward pass, so a reference to the old Grad must not be relied on after this call.
    /// </summary>
    public void ZeroGrad()
    {
        if (Grad is { Pooled: false } old && !old.IsReleased) _retiredGrad = old;
        Grad = null;
    }
}
