using Crt.Tensors;
using Crt.Tensors.Nn;

namespace Crt.Tokenizer;

/// <summary>
/// LPIPS (Zhang et al. 2018) on VGG16 as LlamaGen/taming use it: inputs shifted and scaled
/// (ScalingLayer), VGG16 features at relu1_2, relu2_2, relu3_3, relu4_3, relu5_3, each unit-normalised
/// over channels, squared differences weighted by 1×1 "lin" convolutions, averaged over space and
/// summed over layers. The pretrained VGG16 and lin weights cannot be downloaded here: they load from a
/// safetensors file the user supplies (names as LlamaGen's LPIPS module: net.slice1.0.weight …,
/// lin0.model.1.weight …; tools/convert_lpips.py makes one from torchvision's VGG16 and vgg.pth).
/// All its parameters are frozen; gradients flow to the images.
/// </summary>
public sealed class Lpips : Module
{
    public static readonly int[] Channels = { 64, 128, 256, 512, 512 };
    private static readonly float[] Shift = { -.030f, -.088f, -.188f };
    private static readonly float[] Scale = { .458f, .448f, .450f };

    public Vgg16Slices Net { get; }
    private readonly Sequential[] _lins;
    private readonly Tensor _shift, _scale;

    public Lpips(Rng? rng = null)
    {
        rng ??= new Rng(0);
        var scaling = RegisterModule("scaling_layer", new ScalingLayer());
        (_shift, _scale) = (scaling.ShiftBuffer, scaling.ScaleBuffer);
        Net = RegisterModule("net", new Vgg16Slices(rng));
        _lins = new Sequential[Channels.Length];
        for (int i = 0; i < Channels.Length; i++)
            _lins[i] = RegisterModule($"lin{i}", new LinLayer(Channels[i], rng)).Model;
        foreach (var p in Parameters()) p.RequiresGrad = false;
    }

    /// <summary>Loads the VGG16 and lin weights from <paramref name="path"/> (all of them must be there).</summary>
    public static Lpips FromFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: LPIPS weights file not found");
        var lpips = new Lpips();
        try { lpips.Load(path, strict: true); }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: not an LPIPS-VGG16 weights file ({e.Message})", e);
        }
        foreach (var p in lpips.Parameters()) p.RequiresGrad = false;
        lpips.Eval();
        return lpips;
    }

    /// <summary>Per-image distance [B] between images in [−1, 1]; one-channel images are repeated to RGB.</summary>
    public Tensor Forward(Tensor x, Tensor y)
    {
        if (!ShapeUtil.SameShape(x.Shape, y.Shape) || x.Rank != 4 || (x.Shape[1] != 1 && x.Shape[1] != 3))
            throw new ArgumentException($"lpips: expected two [B, 1 or 3, H, W] batches of the same shape, got {ShapeUtil.Format(x.Shape)} and {ShapeUtil.Format(y.Shape)}");
        var fx = Net.Forward(Prepare(x));
        var fy = Net.Forward(Prepare(y));
        Tensor? total = null;
        for (int i = 0; i < fx.Length; i++)
        {
            var d = Ops.Square(Ops.Sub(UnitNormalize(fx[i]), UnitNormalize(fy[i])));
            var layer = Ops.Mean(Ops.Mean(_lins[i].Forward(d), 3), 2); // [B, 1]
            total = total is null ? layer : Ops.Add(total, layer);
        }
        return Ops.Reshape(total!, x.Shape[0]);
    }

    private Tensor Prepare(Tensor x)
    {
        if (x.Shape[1] == 1) x = Ops.Concat(new[] { x, x, x }, 1);
        return Ops.Div(Ops.Sub(x, _shift), _scale);
    }

    /// <summary>x / (‖x‖₂ over channels + 1e-10), as LPIPS's normalize_tensor.</summary>
    private static Tensor UnitNormalize(Tensor x)
    {
        var norm = Ops.Sqrt(Ops.Sum(Ops.Square(x), 1, keepDim: true));
        return Ops.Div(x, Ops.AddScalar(norm, 1e-10f));
    }

    /// <summary>LPIPS's ScalingLayer constants, registered as buffers shift and scale ([1, 3, 1, 1]) like the PyTorch module.</summary>
    private sealed class ScalingLayer : Module
    {
        public Tensor ShiftBuffer { get; }
        public Tensor ScaleBuffer { get; }
        public ScalingLayer()
        {
            ShiftBuffer = RegisterBuffer("shift", Persistent(() => Tensor.From(Shift, 1, 3, 1, 1)));
            ScaleBuffer = RegisterBuffer("scale", Persistent(() => Tensor.From(Scale, 1, 3, 1, 1)));
        }
    }

    /// <summary>NetLinLayer: model = [Dropout, Conv2d(chn → 1, 1×1, no bias)] (dropout is inactive in eval).</summary>
    private sealed class LinLayer : Module
    {
        public Sequential Model { get; }
        public LinLayer(int channels, Rng rng) =>
            Model = RegisterModule("model", new Sequential(new Dropout(0.5f, rng), new Conv2d(channels, 1, 1, bias: false, rng: rng)));
    }
}

/// <summary>torchvision's VGG16 features cut into LPIPS's five slices, keeping torchvision's layer indices as names.</summary>
public sealed class Vgg16Slices : Module
{
    private readonly List<List<ILayer>> _slices = new();

    public Vgg16Slices(Rng rng)
    {
        // torchvision vgg16 "D" config: conv widths, with "M" max-pools; LPIPS slices end after relu1_2, 2_2, 3_3, 4_3, 5_3.
        int[][] convs = { new[] { 64, 64 }, new[] { 128, 128 }, new[] { 256, 256, 256 }, new[] { 512, 512, 512 }, new[] { 512, 512, 512 } };
        int index = 0, cin = 3;
        for (int s = 0; s < convs.Length; s++)
        {
            var slice = new SliceModule();
            var layers = new List<ILayer>();
            if (s > 0) layers.Add(slice.Add(index++, new Activation(x => Ops.MaxPool2d(x, 2, 2), "max_pool")));
            foreach (var cout in convs[s])
            {
                layers.Add(slice.Add(index++, new Conv2d(cin, cout, 3, padding: 1, rng: rng)));
                layers.Add(slice.Add(index++, Activation.Relu()));
                cin = cout;
            }
            RegisterModule($"slice{s + 1}", slice);
            _slices.Add(layers);
        }
    }

    /// <summary>The five relu outputs.</summary>
    public Tensor[] Forward(Tensor x)
    {
        var outs = new Tensor[_slices.Count];
        for (int s = 0; s < _slices.Count; s++)
        {
            foreach (var l in _slices[s]) x = l.Forward(x);
            outs[s] = x;
        }
        return outs;
    }

    private sealed class SliceModule : Module
    {
        public ILayer Add(int index, Module m)
        {
            RegisterModule(index.ToString(System.Globalization.CultureInfo.InvariantCulture), m);
            return (ILayer)m;
        }
    }
}
