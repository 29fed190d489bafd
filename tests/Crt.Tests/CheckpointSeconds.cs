using System.Text.Json.Nodes;
using Crt.Training;

namespace Crt.Tests;

/// <summary>Reads and rewrites the training seconds a run's checkpoint records (state.json), to stand for earlier processes.</summary>
internal static class CheckpointSeconds
{
    public static string Latest(string run) => RunDirectory.OpenToRead(run).LatestCheckpoint()!;

    public static double? Read(string checkpoint) =>
        (double?)JsonNode.Parse(File.ReadAllText(Path.Combine(checkpoint, "state.json")))!["seconds"];

    /// <summary>Sets the recorded seconds; null removes them, as in checkpoints made before they were recorded.</summary>
    public static void Write(string checkpoint, double? seconds)
    {
        string path = Path.Combine(checkpoint, "state.json");
        var state = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        if (seconds is { } s) state["seconds"] = s;
        else state.Remove("seconds");
        File.WriteAllText(path, state.ToJsonString());
    }
}
