namespace Crt.Data;

/// <summary>The flip setting of a run or a demo: "auto", "on" or "off", resolved against its dataset.</summary>
public static class FlipSetting
{
    public static readonly string[] Values = { "auto", "on", "off" };

    /// <summary>Whether images of <paramref name="data"/> are flipped; "auto" asks <see cref="BuiltInDatasets.MirrorSafe"/>.</summary>
    public static bool Resolve(string setting, string data) => setting switch
    {
        "on" => true,
        "off" => false,
        "auto" => BuiltInDatasets.MirrorSafe(data),
        _ => throw new ArgumentException($"flip '{setting}': expected one of {string.Join(", ", Values)}"),
    };

    /// <summary>One sentence for logs and reports: whether flips are on, and why.</summary>
    public static string Describe(string setting, string data)
    {
        bool on = Resolve(setting, data);
        string why = setting != "auto" ? $"flip={setting}"
            : on ? "mirrored images keep their class in this data" : "IDX data other than Fashion-MNIST is orientation-sensitive, digits or letters where a mirrored 2 is not a 2; flip=on overrides";
        return on ? $"random horizontal flips on ({why})" : $"no flips ({why})";
    }
}
