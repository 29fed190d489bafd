namespace Crt.Tensors.Autograd;

/// <summary>Whether ops record themselves on the tape (per thread).</summary>
public static class GradMode
{
    [ThreadStatic] private static int _disabledDepth;

    public static bool Enabled => _disabledDepth == 0;

    /// <summary>Within the returned scope no op is recorded (evaluation, sampling, optimizer updates).</summary>
    public static IDisposable NoGrad()
    {
        _disabledDepth++;
        return new Restore();
    }

    private sealed class Restore : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _disabledDepth--;
        }
    }
}
