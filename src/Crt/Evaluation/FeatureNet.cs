using Crt.Tensors;
using Crt.Tensors.Nn;

namespace Crt.Evaluation;

/// <summary>
/// The feature network for the built-in dataset (spec §5): a small classifier trained in this project.
/// Three conv3×3 → ReLU → max-pool stages (32, 64, 128 channels) on 1×32×32 images, then a 128-d
/// penultimate layer ("features", used for the Fréchet distance and precision/recall) and a linear
/// classifier whose softmax gives the Inception-style score.
/// </summary>
public sealed class FeatureNet : Module
{
    public const string Architecture = "fmnist-cnn-v1";
    public const int FeatureDim = 128;

    public int InChannels { get; }
    public int ImageSize { get; }
    public int NumClasses { get; }
    public Conv2d Conv1 { get; }
    public Conv2d Conv2 { get; }
    public Conv2d Conv3 { get; }
    public Linear Fc { get; }
    public Linear Head { get; }

    public FeatureNet(int inChannels, int imageSize, int numClasses, Rng rng)
    {
        if (imageSize % 8 != 0) throw new ArgumentException($"feature net: image size {imageSize} must be a multiple of 8");
        (InChannels, ImageSize, NumClasses) = (inChannels, imageSize, numClasses);
        Conv1 = RegisterModule("conv1", new Conv2d(inChannels, 32, 3, padding: 1, rng: rng));
        Conv2 = RegisterModule("conv2", new Conv2d(32, 64, 3, padding: 1, rng: rng));
        Conv3 = RegisterModule("conv3", new Conv2d(64, 128, 3, padding: 1, rng: rng));
        int side = imageSize / 8;
        Fc = RegisterModule("fc", new Linear(128 * side * side, FeatureDim, rng: rng));
        Head = RegisterModule("head", new Linear(FeatureDim, numClasses, rng: rng));
    }

    /// <summary>Penultimate features [B, 128] (after ReLU) of images [B, C, S, S] in [−1, 1].</summary>
    public Tensor Features(Tensor x)
    {
        if (x.Rank != 4 || x.Shape[1] != InChannels || x.Shape[2] != ImageSize || x.Shape[3] != ImageSize)
            throw new ArgumentException($"feature net: expected images [B, {InChannels}, {ImageSize}, {ImageSize}], got {ShapeUtil.Format(x.Shape)}");
        var h = Ops.MaxPool2d(Ops.Relu(Conv1.Forward(x)), 2);
        h = Ops.MaxPool2d(Ops.Relu(Conv2.Forward(h)), 2);
        h = Ops.MaxPool2d(Ops.Relu(Conv3.Forward(h)), 2);
        return Ops.Relu(Fc.Forward(Ops.Reshape(h, x.Shape[0], -1)));
    }

    public Tensor Logits(Tensor x) => Head.Forward(Features(x));
}
