namespace Crt.Tensors.Optim;

/// <summary>
/// Parameters that share hyperparameters. <see cref="Lr"/> and <see cref="WeightDecay"/> left null
/// take the optimizer's defaults. <see cref="LrScale"/> is how <see cref="Optimizer.SetLr"/> reaches
/// this group: its learning rate becomes lr × LrScale.
/// </summary>
public sealed class ParamGroup
{
    public IReadOnlyList<(string Name, Tensor Parameter)> Parameters { get; }
    public double? Lr { get; set; }
    public double? WeightDecay { get; set; }
    public double LrScale { get; set; } = 1.0;

    public ParamGroup(IEnumerable<(string Name, Tensor Parameter)> parameters, double? lr = null, double? weightDecay = null)
    {
        Parameters = parameters.ToList();
        Lr = lr;
        WeightDecay = weightDecay;
    }

    /// <summary>
    /// The usual transformer split (nanoGPT, LlamaGen): matrices and convolution kernels (rank ≥ 2)
    /// decay, biases, norm weights and other vectors (rank &lt; 2) do not.
    /// </summary>
    public static ParamGroup[] DecayAndNoDecay(IEnumerable<(string Name, Tensor Parameter)> parameters, double weightDecay)
    {
        var all = parameters.ToList();
        return new[]
        {
            new ParamGroup(all.Where(p => p.Parameter.Rank >= 2), weightDecay: weightDecay),
            new ParamGroup(all.Where(p => p.Parameter.Rank < 2), weightDecay: 0),
        };
    }
}
