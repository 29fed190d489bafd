using Crt.Tensors;
using Crt.Tensors.IO;
using Crt.Tensors.Nn;

namespace Crt.Evaluation;

/// <summary>
/// InceptionV3 in its FID form, as pytorch-fid's fid_inception_v3() builds it for the
/// pt_inception-2015-12-05 weights (the TF graph FID was defined with): torchvision's Inception3 with
/// 1008 classes and no aux head, whose Mixed_5b/5c/5d, 6b–6e and 7b/7c are replaced by FID variants.
/// They differ from torchvision's blocks only in the pool branch: the 3×3 average pools do not count
/// the zero padding (count_include_pad=False, TF's pooling), and Mixed_7c max-pools instead
/// (<see cref="FidInceptionE"/>). The stem, Mixed_6a and Mixed_7a are torchvision's.
///
/// Parameters carry pytorch-fid's state-dict names (Conv2d_1a_3x3.conv.weight,
/// Mixed_5b.branch1x1.bn.running_mean, …, fc.weight, fc.bias), so tools/convert_inception.py's file
/// loads as is (<see cref="FromFile"/>). Evaluation only: parameters are frozen and BatchNorm uses the
/// running statistics.
///
/// Outputs: pool_3, the 2048-d global average of Mixed_7c (the FID features), and the 1008 logits of fc.
/// For the Inception Score, <see cref="Embed"/> follows the original TF code (and torch-fidelity's
/// "logits_unbiased"): softmax over all 1008 classes of pool_3 · fc.weightᵀ, without fc's bias.
/// pytorch-fid itself computes no IS.
/// </summary>
public sealed class InceptionV3Fid : Module, IFeatureExtractor
{
    public const string Architecture = "inception-v3-fid";
    public const int InputSize = 299, Pool3Dim = 2048, Classes = 1008;
    /// <summary>Images per forward in <see cref="Embed"/>: embedding in batches of 16 at 299² peaked at 2.5 GB of memory (measured).</summary>
    public const int EmbedBatch = 16;

    public BasicConv2d Conv2d_1a_3x3 { get; }
    public BasicConv2d Conv2d_2a_3x3 { get; }
    public BasicConv2d Conv2d_2b_3x3 { get; }
    public BasicConv2d Conv2d_3b_1x1 { get; }
    public BasicConv2d Conv2d_4a_3x3 { get; }
    public FidInceptionA Mixed_5b { get; }
    public FidInceptionA Mixed_5c { get; }
    public FidInceptionA Mixed_5d { get; }
    public InceptionB Mixed_6a { get; }
    public FidInceptionC Mixed_6b { get; }
    public FidInceptionC Mixed_6c { get; }
    public FidInceptionC Mixed_6d { get; }
    public FidInceptionC Mixed_6e { get; }
    public InceptionD Mixed_7a { get; }
    public FidInceptionE Mixed_7b { get; }
    public FidInceptionE Mixed_7c { get; }
    public Linear Fc { get; }

    /// <summary>Called with a progress line every few batches of <see cref="Embed"/> (it takes a while on a CPU).</summary>
    public Action<string>? Progress { get; set; }

    public string Name => Architecture;
    public int FeatureDim => Pool3Dim;
    public int NumClasses => Classes;

    /// <summary>The architecture with placeholder weights; <see cref="FromFile"/> gives the real ones.</summary>
    public InceptionV3Fid()
    {
        Conv2d_1a_3x3 = RegisterModule("Conv2d_1a_3x3", new BasicConv2d(3, 32, 3, stride: 2));
        Conv2d_2a_3x3 = RegisterModule("Conv2d_2a_3x3", new BasicConv2d(32, 32, 3));
        Conv2d_2b_3x3 = RegisterModule("Conv2d_2b_3x3", new BasicConv2d(32, 64, 3, padding: 1));
        Conv2d_3b_1x1 = RegisterModule("Conv2d_3b_1x1", new BasicConv2d(64, 80, 1));
        Conv2d_4a_3x3 = RegisterModule("Conv2d_4a_3x3", new BasicConv2d(80, 192, 3));
        Mixed_5b = RegisterModule("Mixed_5b", new FidInceptionA(192, poolFeatures: 32));
        Mixed_5c = RegisterModule("Mixed_5c", new FidInceptionA(256, poolFeatures: 64));
        Mixed_5d = RegisterModule("Mixed_5d", new FidInceptionA(288, poolFeatures: 64));
        Mixed_6a = RegisterModule("Mixed_6a", new InceptionB(288));
        Mixed_6b = RegisterModule("Mixed_6b", new FidInceptionC(768, channels7x7: 128));
        Mixed_6c = RegisterModule("Mixed_6c", new FidInceptionC(768, channels7x7: 160));
        Mixed_6d = RegisterModule("Mixed_6d", new FidInceptionC(768, channels7x7: 160));
        Mixed_6e = RegisterModule("Mixed_6e", new FidInceptionC(768, channels7x7: 192));
        Mixed_7a = RegisterModule("Mixed_7a", new InceptionD(768));
        Mixed_7b = RegisterModule("Mixed_7b", new FidInceptionE(1280, maxPool: false));
        Mixed_7c = RegisterModule("Mixed_7c", new FidInceptionE(2048, maxPool: true));
        Fc = RegisterModule("fc", new Linear(Pool3Dim, Classes, rng: new Rng(0)));
        foreach (var p in Parameters()) p.RequiresGrad = false;
        Eval();
    }

    /// <summary>
    /// Loads the weights tools/convert_inception.py writes. The header is checked before any data is
    /// read, and the first problem is one error naming the file and the tensor: a mis-shaped tensor
    /// (e.g. torchvision's 1000-class ImageNet fc), an unexpected one (e.g. its AuxLogits), a missing one.
    /// </summary>
    public static InceptionV3Fid FromFile(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: InceptionV3 weights file not found (make it from pytorch-fid's pt_inception-2015-12-05-6726825d.pth with tools/convert_inception.py)");
        var header = SafeTensors.ReadHeader(path); // a truncated or malformed file throws InvalidDataException naming it
        var net = new InceptionV3Fid();
        var own = net.StateDict();
        string More(int count, string what) => count > 1 ? $" ({count} {what} in all)" : "";
        foreach (var t in header.Tensors)
            if (own.TryGetValue(t.Name, out var dst) && !ShapeUtil.SameShape(t.Shape, dst.Shape))
                throw new InvalidDataException($"{path}: tensor '{t.Name}' is {ShapeUtil.Format(t.Shape)}, InceptionV3-FID needs {ShapeUtil.Format(dst.Shape)}");
        var unexpected = header.Tensors.Select(t => t.Name).Where(k => !own.ContainsKey(k)).ToList();
        if (unexpected.Count > 0)
            throw new InvalidDataException($"{path}: not InceptionV3-FID weights: unexpected tensor '{unexpected[0]}'{More(unexpected.Count, "unexpected")}");
        // num_batches_tracked only counts training steps; a converter may leave it out.
        var missing = own.Keys.Where(k => !header.Contains(k) && !k.EndsWith("num_batches_tracked", StringComparison.Ordinal)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{path}: not InceptionV3-FID weights: tensor '{missing[0]}' is missing{More(missing.Count, "missing")}; " +
                "convert pytorch-fid's weights with tools/convert_inception.py");
        foreach (var (name, src) in SafeTensors.Load(path))
            src.ReadOnlySpan.CopyTo(own[name].Span);
        return net;
    }

    /// <summary>
    /// pool_3 [B, 2048] and logits [B, 1008] of images [B, 1 or 3, H, W] in [−1, 1], as pytorch-fid's
    /// InceptionV3 (resize_input, normalize_input) sees images in [0, 1]: resized bilinearly to 299×299
    /// (align_corners=False) and, when gray, repeated to three channels.
    /// </summary>
    public (Tensor Pool3, Tensor Logits) Forward(Tensor images)
    {
        if (images.Rank != 4 || (images.Shape[1] != 1 && images.Shape[1] != 3))
            throw new ArgumentException($"{Architecture}: expected images [B, 1 or 3, H, W], got {ShapeUtil.Format(images.Shape)}");
        var x = images;
        // Resizing is linear, so resizing in [−1, 1] equals pytorch-fid's resize in [0, 1] then 2x − 1;
        // at 299 it is the identity, and one gray channel is resized once before being repeated.
        if (x.Shape[2] != InputSize || x.Shape[3] != InputSize) x = Ops.ResizeBilinear(x, InputSize, InputSize);
        if (x.Shape[1] == 1) x = Ops.Concat(new[] { x, x, x }, 1);
        return ForwardUnresized(x);
    }

    /// <summary>The network on RGB images in [−1, 1] at their own size (pytorch-fid's resize_input=False; at least 75×75).</summary>
    public (Tensor Pool3, Tensor Logits) ForwardUnresized(Tensor x)
    {
        if (x.Rank != 4 || x.Shape[1] != 3 || x.Shape[2] < 75 || x.Shape[3] < 75)
            throw new ArgumentException($"{Architecture}: expected RGB images [B, 3, H ≥ 75, W ≥ 75], got {ShapeUtil.Format(x.Shape)}");
        var h = Mixed_7a.Forward(Mixed_6e.Forward(Mixed_6d.Forward(Mixed_6c.Forward(Mixed_6b.Forward(
            Mixed_6a.Forward(Mixed_5d.Forward(Mixed_5c.Forward(Mixed_5b.Forward(Stem(x))))))))));
        h = Mixed_7c.Forward(Mixed_7b.Forward(h));
        var pool3 = Ops.Mean(Ops.Mean(h, 3), 2); // adaptive average pool to 1×1, flattened
        return (pool3, Fc.Forward(pool3));
    }

    /// <summary>Conv2d_1a … Conv2d_4a with torchvision's two 3×3 stride-2 max pools: the input of Mixed_5b.</summary>
    public Tensor Stem(Tensor x)
    {
        var h = Conv2d_2b_3x3.Forward(Conv2d_2a_3x3.Forward(Conv2d_1a_3x3.Forward(x)));
        h = Ops.MaxPool2d(h, 3, 2);
        h = Conv2d_4a_3x3.Forward(Conv2d_3b_1x1.Forward(h));
        return Ops.MaxPool2d(h, 3, 2);
    }

    /// <summary>pool_3 features and IS class probabilities (softmax of the bias-free logits, see the class comment).</summary>
    public (float[] Features, float[] Probs) Embed(Tensor images) =>
        FeatureBatches.Embed(images, EmbedBatch, Pool3Dim, Classes, x =>
        {
            var (pool3, _) = Forward(x);
            return (pool3, Ops.Softmax(Ops.Linear(pool3, Fc.Weight), -1));
        }, Progress, Device);
}
