using System.Text.Json.Serialization;

namespace Crt.Regularizer;

/// <summary>What the causal regulariser predicts and how its error is scored.</summary>
public enum CrtLossForm
{
    /// <summary>Mean squared error between predicted and actual latents (the paper's choice).</summary>
    L2,
    /// <summary>Cross-entropy of logits over the codebook against the next code index (ablation).</summary>
    CrossEntropy,
}

/// <summary>
/// Settings of Causally Regularized Tokenization (spec §3). Every [choice] the spec makes is a switch
/// here so it can be ablated.
/// </summary>
public sealed record CrtConfig
{
    /// <summary>Off turns the regulariser off entirely (the baseline tokenizer).</summary>
    public bool Enabled { get; init; } = true;
    public float LambdaMax { get; init; } = 4f;
    /// <summary>λ ramps linearly from 0 to <see cref="LambdaMax"/> over this many steps.</summary>
    public int RampSteps { get; init; } = 1000;
    public int Depth { get; init; } = 2;
    /// <summary>Transformer width d; heads = d / 32.</summary>
    public int Width { get; init; } = 64;
    public CrtLossForm LossForm { get; init; } = CrtLossForm.L2;
    /// <summary>[choice] false: gradients reach the encoder through the target too.</summary>
    public bool DetachTarget { get; init; }
    /// <summary>[choice] true: model the L2-normalised latents the quantizer sees (raw ones let the encoder shrink norms and cheat).</summary>
    public bool NormalizedLatents { get; init; } = true;
    public float LearningRate { get; init; } = 1e-4f;

    [JsonIgnore] public int Heads => Math.Max(1, Width / 32);

    /// <summary>λ(t): linear ramp from 0 at step 0 to λ_max at <see cref="RampSteps"/>.</summary>
    public double Lambda(long step) => !Enabled ? 0 : RampSteps <= 0 ? LambdaMax : LambdaMax * Math.Min(1.0, step / (double)RampSteps);

    public void Validate()
    {
        if (LambdaMax < 0) throw new ArgumentException($"crt: lambda {LambdaMax} must be ≥ 0");
        if (Depth < 0) throw new ArgumentException($"crt: depth {Depth} must be ≥ 0");
        if (Width < 4 || Width % Heads != 0 || Width / Heads % 4 != 0)
            throw new ArgumentException($"crt: width {Width} must split into heads of 32 (a multiple of 4 each) for 2D RoPE");
    }
}
