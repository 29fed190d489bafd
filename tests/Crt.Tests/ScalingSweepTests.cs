using Crt.Cli;
using Crt.Scaling;
using Crt.Tensors;
using Crt.Training;
using Xunit;

namespace Crt.Tests;

/// <summary>
/// The sweep end to end on the micro plan (tests/Crt.Tests/data/sweep-micro.json) over a small synthetic
/// dataset, with the feature net cached in a temporary folder: it records every point, writes the
/// reports, does nothing when run again, and continues after an interruption exactly as if uninterrupted.
/// </summary>
[Collection("console")]
public sealed class ScalingSweepTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-sweep-").FullName;
    private readonly string _plan;

    public ScalingSweepTests()
    {
        Environment.SetEnvironmentVariable("CRT_CACHE", Path.Combine(_dir, "cache"));
        StripesDataset.Write(Path.Combine(_dir, "stripes"), 5376, 64); // 376 training images: enough for a few feature-net steps
        _plan = Path.Combine(_dir, "sweep-micro.json");
        File.Copy(TestData.File("sweep-micro.json"), _plan);
    }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("CRT_CACHE", null);
        Directory.Delete(_dir, recursive: true);
    }

    private SweepOutcome Sweep(string outDir, Action<PointRecord>? afterPoint = null, CancellationToken cancel = default, IReadOnlySet<string>? only = null) =>
        SweepRunner.Run(SweepPlan.Load(_plan), new SweepOptions(outDir, Quiet: true, Command: "test", AfterPoint: afterPoint, Only: only), cancel, _ => { });

    private static IReadOnlyList<PointRecord> PointsOf(string dir) => new PointLog(Path.Combine(dir, "points.jsonl")).Read().Points;

    /// <summary>Every file under a folder with its last write time: unchanged means nothing was trained, tokenized or checkpointed.</summary>
    private static Dictionary<string, DateTime> Files(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".html") && !f.EndsWith(".md") && !f.EndsWith(".svg") && !f.EndsWith("plan.json")) // reports are rewritten on every run
            .ToDictionary(f => f, File.GetLastWriteTimeUtc);

    /// <summary>The micro sweep run straight through into one folder, and into another stopped after its first point.</summary>
    private (string Straight, string Stopped) StraightAndStopped(string name)
    {
        var straight = Path.Combine(_dir, "straight");
        Sweep(straight);
        var dir = Path.Combine(_dir, name);
        using var cts = new CancellationTokenSource();
        Assert.Throws<OperationCanceledException>(() => Sweep(dir, _ => cts.Cancel(), cts.Token));
        return (straight, dir);
    }

    /// <summary>Every point of <paramref name="dir"/> has the loss, compute and FID of the same point run straight through.</summary>
    private static void SamePointsAs(string straight, string dir, string how)
    {
        var want = PointsOf(straight).ToDictionary(p => p.Key);
        foreach (var p in PointsOf(dir))
        {
            Assert.Equal(want[p.Key].CePerToken, p.CePerToken, 5);
            Assert.Equal(want[p.Key].GptFlops, p.GptFlops);
            Assert.True(Math.Abs(want[p.Key].Fid!.Value - p.Fid!.Value) <= 1e-6 * Math.Max(1, p.Fid.Value), $"{p.Key}: FID {p.Fid} {how}, {want[p.Key].Fid} without");
        }
    }

    [Fact]
    public void AMicroSweepRecordsEveryPointAndReportsAndARerunTrainsNothing()
    {
        var dir = Path.Combine(_dir, "sweep");
        var outcome = Sweep(dir);
        Assert.Equal((6, 6, 6), (outcome.Measured, outcome.Recorded, outcome.Planned));
        var (tokenizers, points) = new PointLog(Path.Combine(dir, "points.jsonl")).Read();
        Assert.Equal(new[] { "baseline", "crt" }, tokenizers.Select(t => t.Name).Order());
        var b = tokenizers.Single(t => t.Name == "baseline"); var c = tokenizers.Single(t => t.Name == "crt");
        Assert.True(b is { CodebookSize: 64, TokensPerImage: 64, CrtEnabled: false } && b.CrtLoss is not null, "the baseline carries a λ = 0 probe");
        Assert.True(c.CrtEnabled && c.Steps <= b.Steps);
        Assert.True(c.TrainingFlops <= b.TrainingFlops && c.TrainingFlops > b.TrainingFlops - c.TrainingFlops / c.Steps, "CRT's tokenizer gets the baseline's compute, to one step");
        Assert.True(b.Psnr > 0 && double.IsFinite(b.Rfid) && b.CodebookUsage > 0);
        string machine = Crt.Tensors.Kernels.Cpu.MachineInfo.Describe();
        Assert.All(tokenizers, t => Assert.Equal(machine, t.Machine)); // the machine their wall time was measured on

        Assert.Equal(6, points.Count);
        foreach (var p in points)
        {
            Assert.Equal(64, p.CePerPosition.Length);
            Assert.Equal(p.CePerPosition.Sum() / 64, p.CePerToken, 9);
            Assert.Equal(p.CePerPosition[0], p.CePosition0);
            Assert.True(p.Fid is > 0 && p.Samples == 10 && p.RealImages == 16 && p.FeatureNet!.Length > 0);
            Assert.Equal(p.Tokenizer == "baseline" ? b.TrainingFlops : c.TrainingFlops, p.TokenizerFlops);
            Assert.Equal(machine, p.Machine);
        }
        // Cumulative GPT FLOPs: the same per step at every checkpoint of one run, and equal between two codes of the same size.
        var one = points.Single(p => p.Tokenizer == "crt" && p.Steps == 1).GptFlops;
        Assert.Equal(4 * one, points.Single(p => p.Tokenizer == "crt" && p.Steps == 4).GptFlops, 1e-6 * one);
        Assert.Equal(one, points.Single(p => p.Tokenizer == "baseline" && p.Steps == 1).GptFlops);

        var html = File.ReadAllText(outcome.Report);
        Assert.Contains("<svg", html);
        Assert.Contains("compute-optimal frontier", html, StringComparison.OrdinalIgnoreCase);
        var md = File.ReadAllText(outcome.Results);
        Assert.Contains("## Claims (spec §6)", md);
        Assert.Contains("| crt | gpt-t1 |", md);
        Assert.Contains("prefix of a constant-LR run", md);
        Assert.Contains($"min points) on {machine}; report made", md);
        Assert.Contains("](figures/frontier-loss.svg)", md);
        Assert.StartsWith("<svg", File.ReadAllText(Path.Combine(dir, "figures", "frontier-loss.svg")));

        // Run again: nothing trained or measured, the same points.
        var before = Files(dir);
        var again = Sweep(dir);
        Assert.Equal(0, again.Measured);
        Assert.Equal(before, Files(dir));
        Assert.Equal(points.Select(p => (p.Key, p.CePerToken, p.Fid)), PointsOf(dir).Select(p => (p.Key, p.CePerToken, p.Fid)));

        // A plan whose settings changed is refused before anything runs, naming the run and the setting.
        File.WriteAllText(_plan, File.ReadAllText(_plan).Replace("\"lr\": 1e-3", "\"lr\": 2e-3"));
        var changed = Assert.Throws<ArgumentException>(() => Sweep(dir));
        Assert.Contains(Path.Combine("gpt", "baseline", "gpt-t1"), changed.Message);
        Assert.Contains("lr = 0.001 in the run, 0.002 in the plan", changed.Message);
        File.WriteAllText(_plan, File.ReadAllText(_plan).Replace("\"lr\": 2e-3", "\"lr\": 1e-3").Replace("\"crt.lambda_max\": 1,", "\"crt.lambda_max\": 2,"));
        Assert.Contains("crt.lambda_max = 1 in the run, 2 in the plan", Assert.Throws<ArgumentException>(() => Sweep(dir)).Message);
        Assert.Equal(before, Files(dir));

        // --fit-only rebuilds the reports from points.jsonl alone.
        File.Delete(outcome.Results);
        SweepRunner.Report(SweepPlan.Load(Path.Combine(dir, "plan.json")), dir, "test", 0, _ => { });
        Assert.Equal(md.Split('\n').Where(l => l.StartsWith("| ")), File.ReadAllText(outcome.Results).Split('\n').Where(l => l.StartsWith("| ")));
    }

    [Fact]
    public void AnInterruptedSweepContinuesOnRerunAsIfUninterrupted()
    {
        var (straight, dir) = StraightAndStopped("interrupted");
        var first = Assert.Single(PointsOf(dir));
        Assert.False(File.Exists(Path.Combine(dir, "report.html")));
        // One tokenizer at a time: the second is not trained before the first one's points are all measured.
        Assert.Equal("baseline", first.Tokenizer);
        Assert.False(Directory.Exists(Path.Combine(dir, "tokenizers", "crt")), "the next tokenizer waits until this one's points are measured");

        var rest = Sweep(dir);
        Assert.Equal((5, 6), (rest.Measured, rest.Recorded));
        Assert.Equal(first.Time, PointsOf(dir).Single(p => p.Key == first.Key).Time); // recorded once, not measured again
        // The GPT runs continued from their checkpoints exactly: the same losses and FIDs as the uninterrupted sweep.
        SamePointsAs(straight, dir, "after the interruption");
    }

    /// <summary>
    /// Wall times count every process that trained a stretch: a GPT run or a tokenizer stopped mid-way and resumed
    /// records the seconds its checkpoint carried, not only the last process's. The checkpoints stand here for an
    /// earlier process that trained for 1000 s.
    /// </summary>
    [Fact]
    public void SecondsCountEveryProcessThatTrainedARun()
    {
        var dir = Path.Combine(_dir, "seconds");
        using (var cts = new CancellationTokenSource())
            Assert.Throws<OperationCanceledException>(() => Sweep(dir, _ => cts.Cancel(), cts.Token));
        var first = Assert.Single(PointsOf(dir));
        Assert.True(first.RunTrainSeconds is > 0);
        Assert.Equal(first.RunTrainSeconds, first.TrainSeconds); // the run's first point: its seconds from the start

        var gpt = CheckpointSeconds.Latest(Path.Combine(dir, "gpt", "baseline", "gpt-t1"));
        CheckpointSeconds.Write(gpt, first.RunTrainSeconds + 1000);
        var tokenizer = CheckpointSeconds.Latest(Path.Combine(dir, "tokenizers", "baseline"));
        CheckpointSeconds.Write(tokenizer, CheckpointSeconds.Read(tokenizer) + 1000);
        // The baseline tokenizer's record as if measured under another feature network, so that it is measured again (its points stay).
        File.WriteAllLines(Path.Combine(dir, "points.jsonl"), File.ReadAllLines(Path.Combine(dir, "points.jsonl"))
            .Select(l => l.Contains("\"kind\":\"tokenizer\"") ? l.Replace(first.FeatureNetSha256!, "another-network") : l));

        Sweep(dir);
        var (tokenizers, points) = new PointLog(Path.Combine(dir, "points.jsonl")).Read();
        Assert.True(tokenizers.Single(t => t.Name == "baseline").Seconds > 1000, "the tokenizer's record counts the earlier process's training");
        Assert.Equal(first.Time, points.Single(p => p.Key == first.Key).Time); // recorded once, not measured again
        var second = points.Single(p => p.Tokenizer == "baseline" && p.Steps == 2);
        Assert.True(second.TrainSeconds > 1000 && second.Seconds > second.TrainSeconds, $"train {second.TrainSeconds} s, in all {second.Seconds} s; run {second.RunTrainSeconds} s, before {first.RunTrainSeconds} s");
        Assert.True(second.RunTrainSeconds > first.RunTrainSeconds + 1000);
        var third = points.Single(p => p.Tokenizer == "baseline" && p.Steps == 4);
        Assert.True(third.TrainSeconds < 1000, "each point counts its own stretch of the run, not the run's total");
        Assert.Equal(third.RunTrainSeconds!.Value - second.RunTrainSeconds!.Value, third.TrainSeconds, 6);
    }

    /// <summary>
    /// On another machine a study goes on from what git keeps (tools/sweep_results.sh): points.jsonl, and a finished
    /// tokenizer whose points are not all measured as its weights alone. That tokenizer is used as it is, not trained
    /// again, and the points that follow are the ones an uninterrupted sweep measures.
    /// </summary>
    [Fact]
    public void ATokenizerRestoredAsItsWeightsIsUsedAsItIsAndTheSweepGoesOn()
    {
        var (straight, dir) = StraightAndStopped("moved");
        var recorded = new PointLog(Path.Combine(dir, "points.jsonl")).Read().Tokenizers.Single(t => t.Name == "baseline");

        // What reaches the new machine: points.jsonl, the plan, and the baseline's config with its last weights.
        var tok = Path.Combine(dir, "tokenizers", "baseline");
        var latest = RunDirectory.OpenToRead(tok).LatestCheckpoint()!;
        var keep = new HashSet<string> { "model.safetensors", "regularizer.safetensors", "state.json" };
        foreach (var f in Directory.GetFiles(latest).Where(f => !keep.Contains(Path.GetFileName(f)))) File.Delete(f);
        foreach (var d in Directory.GetDirectories(Path.Combine(tok, "checkpoints")).Where(d => d != latest)) Directory.Delete(d, recursive: true);
        foreach (var f in Directory.GetFiles(tok).Where(f => Path.GetFileName(f) != "config.json")) File.Delete(f);
        foreach (var d in new[] { "gpt", "tokens", "images" }.Select(d => Path.Combine(dir, d)).Where(Directory.Exists)) Directory.Delete(d, recursive: true);
        var weights = Files(tok);

        var rest = Sweep(dir);
        Assert.Equal((5, 6), (rest.Measured, rest.Recorded));
        Assert.Equal(weights, Files(tok)); // not trained again
        Assert.Equal(recorded.Time, new PointLog(Path.Combine(dir, "points.jsonl")).Read().Tokenizers.Single(t => t.Name == "baseline").Time);
        SamePointsAs(straight, dir, "after the move");

        // Weights alone of a tokenizer short of the plan's steps cannot be trained on: one message naming the checkpoint.
        var state = Path.Combine(latest, "state.json");
        File.WriteAllText(state, System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(state), "\"step\": \\d+", "\"step\": 1"));
        Directory.Delete(Path.Combine(dir, "gpt"), recursive: true);
        File.WriteAllLines(Path.Combine(dir, "points.jsonl"), File.ReadAllLines(Path.Combine(dir, "points.jsonl")).Where(l => !l.Contains("\"baseline\"")));
        var err = Assert.Throws<ArgumentException>(() => Sweep(dir));
        Assert.Contains(latest, err.Message);
        Assert.Contains("only the weights of step 1 of", err.Message);
    }

    /// <summary>
    /// FIDs under two feature networks are not like for like: records measured under another network (or made before
    /// records named it) are measured again under the one in use, without retraining the tokenizer.
    /// </summary>
    [Fact]
    public void RecordsMeasuredUnderAnotherFeatureNetAreMeasuredAgain()
    {
        var dir = Path.Combine(_dir, "nets");
        Sweep(dir);
        var (tokenizers, points) = new PointLog(Path.Combine(dir, "points.jsonl")).Read();
        string net = Assert.Single(points.Select(p => p.FeatureNetSha256).Concat(tokenizers.Select(t => t.FeatureNetSha256)).Distinct())!;
        Assert.Matches("^[0-9a-f]{64}$", net);

        // The baseline's records as if measured under another network; its GPT run goes, so its points can be measured again.
        var lines = File.ReadAllLines(Path.Combine(dir, "points.jsonl"))
            .Select(l => l.Contains("\"baseline\"") ? l.Replace(net, "another-network") : l).ToArray();
        File.WriteAllLines(Path.Combine(dir, "points.jsonl"), lines);
        Directory.Delete(Path.Combine(dir, "gpt", "baseline"), recursive: true);
        var checkpoints = Files(Path.Combine(dir, "tokenizers", "baseline", "checkpoints"));

        var again = Sweep(dir);
        Assert.Equal(3, again.Measured);
        (tokenizers, points) = new PointLog(Path.Combine(dir, "points.jsonl")).Read();
        Assert.All(points, p => Assert.Equal(net, p.FeatureNetSha256));
        Assert.All(tokenizers, t => Assert.Equal(net, t.FeatureNetSha256));
        Assert.Equal(checkpoints, Files(Path.Combine(dir, "tokenizers", "baseline", "checkpoints"))); // measured again, not trained again
    }

    [Fact]
    public void OnlyTrainsAndMeasuresTheNamedTokenizersAndTheRestFollowsLater()
    {
        var dir = Path.Combine(_dir, "parts");
        var part = Sweep(dir, only: new HashSet<string> { "baseline" });
        Assert.Equal((3, 3, 6), (part.Measured, part.Recorded, part.Planned));
        Assert.All(PointsOf(dir), p => Assert.Equal("baseline", p.Tokenizer));
        Assert.False(Directory.Exists(Path.Combine(dir, "tokenizers", "crt")), "a tokenizer --only leaves out is not trained");
        Assert.True(File.Exists(part.Results), "the report covers what is recorded so far");

        var rest = Sweep(dir);
        Assert.Equal((3, 6), (rest.Measured, rest.Recorded));
        Assert.Equal(2, PointsOf(dir).Select(p => p.Tokenizer).Distinct().Count());
    }

    [Fact]
    public void ReplicatesReuseTokenizersOfTheirSeedAndReportMeansWithIntervals()
    {
        var planPath = Path.Combine(_dir, "sweep-replicated.json");
        File.WriteAllText(planPath, File.ReadAllText(_plan)
            .Replace("\"seed\": 3,", "\"seeds\": { \"tokenizer\": [3, 3], \"gpt\": [3, 4] },")
            .Replace("\"steps\": [1, 2, 4]", "\"steps\": [1, 2]")
            .Replace("\"samples\": 10,", "\"samples\": 10, \"fid_of_first\": [4, 6],"));
        var dir = Path.Combine(_dir, "replicated");
        var outcome = SweepReplicates.Run(SweepPlan.Load(planPath), new SweepOptions(dir, Quiet: true, Command: "test"), default, _ => { });
        Assert.Equal((8, 8, 8), (outcome.Measured, outcome.Recorded, outcome.Planned)); // 2 tokenizers × 2 lengths × 2 replicates

        var first = new PointLog(Path.Combine(dir, "seed-t3-g3", "points.jsonl")).Read();
        var second = new PointLog(Path.Combine(dir, "seed-t3-g4", "points.jsonl")).Read();
        // the second replicate has the first's tokenizer seed: it reuses those tokenizers instead of training them again
        Assert.All(second.Tokenizers, t => Assert.True(t.Reused && t.RunDir.StartsWith(Path.Combine(dir, "seed-t3-g3")), $"{t.Name}: {t.RunDir}"));
        Assert.Equal(first.Tokenizers.Select(t => t.Sha256).Order(), second.Tokenizers.Select(t => t.Sha256).Order());
        Assert.False(Directory.Exists(Path.Combine(dir, "seed-t3-g4", "tokenizers")));
        // its own GPT seed: other GPT weights, other losses
        Assert.NotEqual(first.Points.Single(p => p.Key == "crt|gpt-t1|2").CePerToken, second.Points.Single(p => p.Key == "crt|gpt-t1|2").CePerToken);

        var md = File.ReadAllText(outcome.Results);
        Assert.Equal(Path.Combine(dir, "replicates.md"), outcome.Results);
        Assert.Contains("| baseline | gpt-t1 | 2 | 2 |", md);
        Assert.Contains(" ± ", md);
        Assert.Contains("**Claim 3 at the largest GPT compute both reached** (gpt-t1, 2 steps", md);
        // FID of the first 4 and 6 of the 10 samples, beside the FID of all 10
        var p2 = second.Points.Single(p => p.Key == "baseline|gpt-t1|2");
        Assert.Equal([4, 6], p2.FidOfFirst.Keys.Order());
        Assert.All(p2.FidOfFirst.Values, f => Assert.True(double.IsFinite(f) && f != p2.Fid));
        Assert.Contains("## FID by sample count", md);
        Assert.Contains("| baseline | gpt-t1 | 2 | 4 |", md);

        // refitting from the records alone gives the same summary
        var refit = SweepReplicates.Report(SweepPlan.Load(Path.Combine(dir, "plan.json")), dir, "test", _ => { });
        Assert.Equal((0, 8), (refit.Measured, refit.Recorded));
        Assert.Equal(md, File.ReadAllText(refit.Results));
    }

    /// <summary>
    /// A folder of 40×36 RGB PNGs in train/, val/ and test/ class subfolders (class c: a bright bar at rows 3c+2..3c+5),
    /// which the tokenizers read as 28×28 gray by area resize.
    /// </summary>
    private static void WritePictures(string root)
    {
        var rng = new Rng(8);
        foreach (var (split, perClass) in new[] { ("train", 12), ("val", 4), ("test", 2) })
            for (int c = 0; c < 10; c++)
                for (int i = 0; i < perClass; i++)
                {
                    var rgb = new byte[40 * 36 * 3];
                    for (int p = 0; p < 40 * 36; p++)
                    {
                        int y = p / 40;
                        byte v = (byte)((y >= 3 * c + 2 && y < 3 * c + 6 ? 190 : 30) + rng.NextInt(40));
                        rgb[3 * p] = v; rgb[3 * p + 1] = (byte)(v / 2); rgb[3 * p + 2] = (byte)(255 - v);
                    }
                    var path = Path.Combine(root, split, $"c{c}", $"{i}.png");
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    Crt.Data.PngWriter.Write(path, rgb, 40, 36, 3);
                }
    }

    [Fact]
    public void ASweepOverAnImageFolderMeasuresTheImagesAsTheTokenizersReadThem()
    {
        WritePictures(Path.Combine(_dir, "pictures"));
        var read = "\"image_size\": 28, \"channels\": 1, \"resize\": \"area\", ";
        File.WriteAllText(_plan, File.ReadAllText(_plan).Replace("\"data\": \"stripes\"", "\"data\": \"pictures\"")
            .Replace("\"set\": { \"steps\"", "\"set\": { " + read + "\"steps\"").Replace("\"set\": { \"match_baseline_steps\"", "\"set\": { " + read + "\"match_baseline_steps\""));
        var dir = Path.Combine(_dir, "pictures-sweep");
        Assert.True(SweepEstimate.Run(SweepPlan.Load(_plan), _ => { }) > 0, "--dry-run estimates a sweep over an image folder");
        var outcome = Sweep(dir);
        Assert.Equal((6, 6), (outcome.Measured, outcome.Planned));
        var (tokenizers, points) = new PointLog(Path.Combine(dir, "points.jsonl")).Read();
        Assert.All(tokenizers, t => Assert.True(t.TestImages == 16 && double.IsFinite(t.Rfid) && t.Psnr > 0, $"{t.Name}: {t.TestImages} test images, rFID {t.Rfid}"));
        Assert.All(points, p => Assert.True(p.Fid is > 0 && p.RealImages == 16, $"{p.Key}: FID {p.Fid} against {p.RealImages} images"));

        // Tokenizers that read the folder differently cannot share one sweep's FIDs.
        File.WriteAllText(_plan, File.ReadAllText(_plan).Replace("\"match_baseline_steps\": 3, \"batch_size\"", "\"match_baseline_steps\": 3, \"pad\": 0, \"model.image_size\": 28, \"batch_size\""));
        var mixed = Path.Combine(_dir, "pictures-mixed");
        var e = Assert.Throws<ArgumentException>(() => Sweep(mixed));
        Assert.Contains("tokenizer 'crt' reads the data as 28×28, 1 channel(s), resize Area, padding 0", e.Message);
        Assert.False(Directory.Exists(Path.Combine(mixed, "tokenizers", "crt")), "refused before it trained");
    }

    [Fact]
    public void TheCommandSaysWhatIsWrongInOneLine()
    {
        var err = new StringWriter();
        var old = Console.Error;
        Console.SetError(err);
        try
        {
            Assert.Equal(2, Program.Main(new[] { "sweep" }));
            Assert.Contains("sweep needs a plan file", err.ToString());
            err.GetStringBuilder().Clear();
            Assert.Equal(1, Program.Main(new[] { "sweep", Path.Combine(_dir, "missing.json") }));
            Assert.Contains("missing.json: cannot read the sweep plan", err.ToString());
            err.GetStringBuilder().Clear();
            Assert.Equal(1, Program.Main(new[] { "sweep", "--fit-only", "--out", Path.Combine(_dir, "nowhere") }));
            Assert.Contains("no recorded plan", err.ToString());
            err.GetStringBuilder().Clear();
            Assert.Equal(1, Program.Main(new[] { "sweep", _plan, "--only", "baseline,nosuch", "--out", Path.Combine(_dir, "only") }));
            Assert.Contains("no tokenizer named 'nosuch'; the plan has baseline, crt", err.ToString());
            Assert.DoesNotContain("   at ", err.ToString());
        }
        finally { Console.SetError(old); }
    }
}

public sealed class ScalingPointLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("crt-points-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TokenizerRecord Tok(string sha) => new() { Name = "t", Sha256 = sha, RunDir = "r", Preset = "vq-tiny", FeatureNet = "f", CodebookSize = 512, TokensPerImage = 64 };
    private static PointRecord Point(string sha, long steps, double ce) => new() { Tokenizer = "t", TokenizerSha256 = sha, Gpt = "gpt-t1", Steps = steps, CePerToken = ce, CePerPosition = new[] { ce } };

    [Fact]
    public void ATornLastLineIsCutTheLatestRecordWinsAndPointsOfARetrainedTokenizerAreDropped()
    {
        var path = Path.Combine(_dir, "points.jsonl");
        var log = new PointLog(path);
        log.Append(Tok("aa"));
        log.Append(Point("aa", 10, 3.0));
        log.Append(Point("aa", 10, 2.5)); // measured again: the later record counts
        log.Append(Point("aa", 20, 2.0));
        File.AppendAllText(path, "{\"kind\":\"point\",\"tokenizer\":\"t\",\"ste"); // killed mid-append

        log = new PointLog(path);
        log.Append(Point("aa", 40, 1.5)); // lands on a line of its own
        var (toks, points) = log.Read();
        Assert.Equal(3, points.Count);
        Assert.Equal(2.5, points.Single(p => p.Steps == 10).CePerToken);
        Assert.Equal(64 * 9.0, toks.Single().CapacityBits);
        Assert.All(File.ReadLines(path), line => Assert.NotNull(System.Text.Json.Nodes.JsonNode.Parse(line))); // the torn fragment is gone

        log.Append(Tok("bb")); // the tokenizer was retrained: its old points no longer describe it
        Assert.Empty(log.Read().Points);
        File.AppendAllText(path, "not json\n");
        Assert.Contains("points.jsonl: line 7 is not a sweep record", Assert.Throws<InvalidDataException>(() => log.Read()).Message);
    }

    [Fact]
    public void RecordsMadeBeforeTheMachineWasRecordedReadWithoutOneAndTheReportSaysWhereEachTimeWasMeasured()
    {
        var path = Path.Combine(_dir, "points.jsonl");
        File.WriteAllText(path, "{\"kind\":\"tokenizer\",\"name\":\"t\",\"sha256\":\"aa\",\"run_dir\":\"r\",\"preset\":\"vq-tiny\",\"feature_net\":\"f\",\"seconds\":60}\n");
        var log = new PointLog(path);
        log.Append(Point("aa", 10, 3.0) with { Seconds = 120, Machine = "Zen 3" });
        log.Append(Point("aa", 20, 2.0) with { Seconds = 30, Machine = "Zen 4" });
        var (toks, points) = log.Read();
        Assert.Null(toks.Single().Machine);
        Assert.Equal(new[] { "Zen 3", "Zen 4" }, points.Select(p => p.Machine));

        var byMachine = new[] { ((string?)"Zen 3", 120.0), ((string?)null, 60.0), ((string?)"Zen 4", 30.0) };
        Assert.Equal("on several machines, whose times do not compare: 2.0 min on Zen 3; 1.0 min on machines not named (records made before the machine was recorded); 0.5 min on Zen 4",
            SweepReport.WhereMeasured(byMachine));
        Assert.Equal("on Zen 4", SweepReport.WhereMeasured(new[] { ((string?)"Zen 4", 30.0) }));
    }
}
