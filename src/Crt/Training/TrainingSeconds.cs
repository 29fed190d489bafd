using System.Diagnostics;

namespace Crt.Training;

/// <summary>
/// A run's training wall seconds summed over every process that trained it: what its checkpoint recorded, plus the
/// time this process has spent training since. A run resumed from a checkpoint that did not record its seconds has
/// an unknown total (null), not the resumed process's part passed off as the whole. When a training loop ends, the
/// total goes back to what its last checkpoint recorded, so that the run's seconds are the same whether a later point
/// is reached by this process or by one resumed from that checkpoint.
/// </summary>
public sealed class TrainingSeconds
{
    private double? _before = 0;
    private double? _atCheckpoint = 0;
    private readonly Stopwatch _watch = new();

    /// <summary>The total so far, or null when unknown.</summary>
    public double? Total => _before + _watch.Elapsed.TotalSeconds;

    /// <summary>Continues from what a checkpoint recorded (null: unknown).</summary>
    public void Restore(double? recorded)
    {
        _before = _atCheckpoint = recorded;
        _watch.Reset();
    }

    /// <summary>The total a checkpoint written now records.</summary>
    public double? ForCheckpoint() => _atCheckpoint = Total;

    /// <summary>Counts the time until the returned scope ends (a training loop); then the total is the last checkpoint's.</summary>
    public Running Start()
    {
        _atCheckpoint = Total;
        _watch.Start();
        return new Running(this);
    }

    public readonly struct Running(TrainingSeconds owner) : IDisposable
    {
        public void Dispose()
        {
            owner._watch.Stop();
            owner.Restore(owner._atCheckpoint);
        }
    }
}
