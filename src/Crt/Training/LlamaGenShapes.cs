using Crt.Generator;
using Crt.Tokenizer;

namespace Crt.Training;

/// <summary>
/// Reads a LlamaGen model's configuration off its weights' shapes. What the shapes cannot tell — the
/// image size a tokenizer encodes, a GPT's token count (block size) and number of attention heads — comes
/// from options, or for heads from the table of LlamaGen's and crt's models of that depth and width.
/// </summary>
public static class LlamaGenShapes
{
    /// <summary>(name, layers, width, heads) of every GPT shape whose head count is known: LlamaGen's GPT_models and crt's presets.</summary>
    public static readonly IReadOnlyList<(string Name, int Layers, int Dim, int Heads)> KnownGpts =
        new (string, int, int, int)[]
        {
            ("LlamaGen GPT-B", 12, 768, 12), ("LlamaGen GPT-L", 24, 1024, 16), ("LlamaGen GPT-XL", 36, 1280, 20),
            ("LlamaGen GPT-XXL", 48, 1536, 24), ("LlamaGen GPT-XXXL", 48, 2560, 40), ("LlamaGen GPT-1B", 22, 2048, 32),
            ("LlamaGen GPT-3B", 24, 3200, 32), ("LlamaGen GPT-7B", 32, 4096, 32),
        }.Concat(GptConfig.Presets.Select(p => ($"crt {p.Key}", p.Value.Layers, p.Value.Dim, p.Value.Heads))).ToList();

    /// <summary>LlamaGen's VQModel: widths, levels, res blocks, z channels and the codebook, from the encoder's and quantizer's weights.</summary>
    public static VqConfig Tokenizer(IReadOnlyDictionary<string, int[]> shapes, int imageSize, string source)
    {
        var convIn = Shape(shapes, "encoder.conv_in.weight", 4, source);
        int ch = convIn[0];
        int levels = Count(shapes, i => $"encoder.conv_blocks.{i}.res.0.conv1.weight");
        int resBlocks = Count(shapes, j => $"encoder.conv_blocks.0.res.{j}.conv1.weight");
        if (levels == 0 || resBlocks == 0) throw new InvalidDataException($"{source}: no encoder.conv_blocks.0.res.0.conv1.weight; not LlamaGen's VQ encoder");
        var mult = new int[levels];
        for (int i = 0; i < levels; i++)
        {
            int width = Shape(shapes, $"encoder.conv_blocks.{i}.res.0.conv1.weight", 4, source)[0];
            if (width % ch != 0) throw new InvalidDataException($"{source}: encoder level {i} is {width} wide, not a multiple of conv_in's {ch}");
            mult[i] = width / ch;
        }
        var codebook = Shape(shapes, "quantize.embedding.weight", 2, source);
        return new VqConfig
        {
            InChannels = convIn[1], ImageSize = imageSize, Channels = ch, ChannelMultipliers = mult, NumResBlocks = resBlocks,
            ZChannels = Shape(shapes, "encoder.conv_out.weight", 4, source)[0], CodebookSize = codebook[0], CodeDim = codebook[1],
        };
    }

    /// <summary>LlamaGen's c2i Transformer: width, depth, vocabulary, classes and SwiGLU width from the weights; heads from <paramref name="heads"/> or <see cref="KnownGpts"/>.</summary>
    public static GptConfig Gpt(IReadOnlyDictionary<string, int[]> shapes, int? heads, int blockSize, string source, out string headsFrom)
    {
        var tok = Shape(shapes, "tok_embeddings.weight", 2, source);
        int vocab = tok[0], dim = tok[1];
        int classes = Shape(shapes, "cls_embedding.embedding_table.weight", 2, source)[0] - 1;
        int layers = Count(shapes, i => $"layers.{i}.attention.wqkv.weight");
        if (layers == 0) throw new InvalidDataException($"{source}: no layers.0.attention.wqkv.weight; not LlamaGen's GPT");
        int qkv = Shape(shapes, "layers.0.attention.wqkv.weight", 2, source)[0];
        if (qkv != 3 * dim)
            throw new InvalidDataException($"{source}: wqkv has {qkv} rows for width {dim}, so keys and values have fewer heads than queries (n_kv_head < n_head); crt's GPT has as many");
        int hidden = Shape(shapes, "layers.0.feed_forward.w1.weight", 2, source)[0];
        // LlamaGen: find_multiple(int(2·4·dim/3), multiple_of). Any multiple_of that gives this width builds the same model.
        int multipleOf = new[] { 256, 128, 64, 32, 16, 8, 4, 2, 1 }.FirstOrDefault(m => GptConfig.RoundUp(2 * 4 * dim / 3, m) == hidden);
        if (multipleOf == 0)
            throw new InvalidDataException($"{source}: the SwiGLU width {hidden} is not int(8·{dim}/3) rounded up to a power of two (an ffn_dim_multiplier?), which crt's GPT does not have");
        if (heads is { } h) headsFrom = "--heads";
        else
        {
            var known = KnownGpts.FirstOrDefault(k => k.Layers == layers && k.Dim == dim);
            if (known.Name is null)
                throw new ArgumentException($"{source}: a GPT of {layers} layers and width {dim}: the number of attention heads is not stored in the weights, and this shape is none of LlamaGen's or crt's models; give it with --heads N");
            h = known.Heads;
            headsFrom = known.Name;
        }
        return new GptConfig
        {
            Layers = layers, Heads = h, Dim = dim, MultipleOf = multipleOf, VocabSize = vocab, NumClasses = classes, BlockSize = blockSize,
        };
    }

    private static int[] Shape(IReadOnlyDictionary<string, int[]> shapes, string key, int rank, string source)
    {
        if (!shapes.TryGetValue(key, out var s)) throw new InvalidDataException($"{source}: no '{key}' in the weights, so the model's shape cannot be read");
        if (s.Length != rank) throw new InvalidDataException($"{source}: '{key}' has shape [{string.Join(", ", s)}], not {rank}-dimensional");
        return s;
    }

    private static int Count(IReadOnlyDictionary<string, int[]> shapes, Func<int, string> key)
    {
        int n = 0;
        while (shapes.ContainsKey(key(n))) n++;
        return n;
    }
}
