namespace Crt.Tensors.Optim;

/// <summary>A learning rate as a function of the (0-based) step: call <c>opt.SetLr(schedule.At(step))</c> before each step.</summary>
public abstract class LrSchedule
{
    public abstract double At(long step);

    public static LrSchedule Constant(double lr) => new ConstantLr(lr);
    public static LrSchedule LinearWarmup(double lr, long warmupSteps) => new WarmupCosineLr(lr, warmupSteps, long.MaxValue, lr);
    public static LrSchedule WarmupCosine(double lr, long warmupSteps, long totalSteps, double minLr = 0) => new WarmupCosineLr(lr, warmupSteps, totalSteps, minLr);
    public static LrSchedule From(Func<long, double> f) => new FuncLr(f);

    private sealed class ConstantLr(double lr) : LrSchedule
    {
        public override double At(long step) => lr;
    }

    private sealed class FuncLr(Func<long, double> f) : LrSchedule
    {
        public override double At(long step) => f(step);
    }
}

/// <summary>
/// Linear warmup to <see cref="Lr"/> over <see cref="WarmupSteps"/> (step s gets lr·(s+1)/warmup, so
/// the last warmup step reaches the peak), then a half cosine from Lr down to <see cref="MinLr"/> at
/// <see cref="TotalSteps"/>, and MinLr after it (nanoGPT's schedule).
/// </summary>
public sealed class WarmupCosineLr : LrSchedule
{
    public double Lr { get; }
    public long WarmupSteps { get; }
    public long TotalSteps { get; }
    public double MinLr { get; }

    public WarmupCosineLr(double lr, long warmupSteps, long totalSteps, double minLr)
    {
        if (warmupSteps < 0) throw new ArgumentException($"lr schedule: warmup steps must be non-negative, got {warmupSteps}");
        if (totalSteps < warmupSteps) throw new ArgumentException($"lr schedule: total steps {totalSteps} are fewer than the {warmupSteps} warmup steps");
        if (minLr > lr) throw new ArgumentException($"lr schedule: min lr {minLr} exceeds the peak {lr}");
        Lr = lr; WarmupSteps = warmupSteps; TotalSteps = totalSteps; MinLr = minLr;
    }

    public override double At(long step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), $"lr schedule: step {step} is negative");
        if (step < WarmupSteps) return Lr * (step + 1) / WarmupSteps;
        if (step >= TotalSteps) return MinLr;
        if (TotalSteps == long.MaxValue) return Lr;
        double progress = (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps);
        return MinLr + 0.5 * (1 + Math.Cos(Math.PI * progress)) * (Lr - MinLr);
    }
}
