namespace Crt.Training;

/// <summary>
/// Which exceptions are crt's clear errors: the ones a command reports as one sentence ("crt: error: …")
/// and exits 1, rather than a stack trace. The CLI and the fuzz harnesses share this one definition, so
/// that a parser throwing anything else is a bug the fuzzer reports.
/// </summary>
public static class ReportedError
{
    public static bool IsClear(Exception e) =>
        e is ArgumentException or InvalidDataException or IOException or TrainingDivergedException or NotSupportedException;
}
