"""Writes the fixtures of `crt import llamagen`: checkpoints saved by torch.save the way LlamaGen's
training scripts save theirs, from the LlamaGen module restatements in make_vq.py and make_gpt.py
(same parameter names, same code paths), and what PyTorch computes with them.

tests/Crt.Tests/data/llamagen/
- vq.pt: {"model": VQModel state dict, "discriminator": PatchGAN state dict, "steps": 1234,
  "args": argparse.Namespace(...)}, as tokenizer/tokenizer_image/vq_train.py saves (its optimizer states
  left out for size). A small VQ: in 1, ch 32, ch_mult 1,1,1, 1 res block, z 32, codebook 256 x 8,
  32x32 images -> 8x8 tokens (vq-tiny's ch_mult 1,2,2 would be 4 MB). Encoder and quantizer in float32,
  decoder in float16 (LlamaGen's own files are float32; the mix tests crt's conversions);
  quantize.codebook_used registered as LlamaGen does (register_buffer of an nn.Parameter). The
  discriminator's BatchNorm brings int64 tensors (num_batches_tracked) crt must pass over unread.
- gpt.pt: a bare bfloat16 state dict, as LlamaGen's FSDP checkpoints (c2i_XXL_384.pt, c2i_3B_384.pt)
  are: gpt-t1's shape (2 layers, 2 heads, width 64, multiple_of 32), vocabulary 256, 10 classes,
  64 tokens (8x8), so crt recognises the head count from its preset table.
- outputs.safetensors: PyTorch's results with the weights as stored (rounded to their dtype, float32
  math): images x, their codes and reconstructions; token grids, class ids and the GPT's logits.

tests/Crt.Tensors.Tests/data/torch/ (the unpickler's own tests)
- tensors.pt: float32/float16/bfloat16 tensors, a transposed and an offset view sharing a storage,
  an nn.Parameter (torch._utils._rebuild_parameter), plain containers; "expected" holds contiguous
  float32 copies. tensors_zip64.pt: the same archive with zip64 records (as torch writes files > 4 GiB).
- int64.pt: {"model": {"w": int64 tensor}} (a dtype crt does not import as weights).
- legacy.pt: the pre-1.6 (non-zip) torch.save format.
- evil_system.pt, evil_eval.pt: archives in torch's layout whose data.pkl calls os.system (protocol 2
  GLOBAL) or builtins.eval (protocol 4 STACK_GLOBAL) to create /tmp/crt-pickle-executed.
- evil_args.pt: a real torch.save of {"model": state dict, "args": object whose __reduce__ is os.system}.
- offset_oob.pt: a tensor of 10 elements at offset 2 in a storage of 4.
Run: /usr/bin/python3 tools/parity/make_llamagen_import.py
"""
import argparse, collections, io, os, pickle, sys, zipfile
import torch
from torch import nn
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io as st
import make_vq as V
import make_gpt as G

LLAMAGEN = os.path.normpath(os.path.join(here, "../../tests/Crt.Tests/data/llamagen"))
TORCH = os.path.normpath(os.path.join(here, "../../tests/Crt.Tensors.Tests/data/torch"))
MARKER = "/tmp/crt-pickle-executed"


def cast(sd, rule):
    """The state dict with each tensor cast by rule(name), keeping torch's _metadata (pickled via BUILD)."""
    out = collections.OrderedDict((k, v.to(rule(k))) for k, v in sd.items())
    out._metadata = sd._metadata
    return out


def make_vq():
    V.IN, V.CH, V.MULT, V.NRES, V.Z, V.CD, V.K = 1, 32, (1, 1, 1), 1, 32, 8, 256
    torch.manual_seed(1)
    vq = V.VQModel()
    V.fill(vq)
    vq.quantize.register_buffer("codebook_used", nn.Parameter(torch.zeros(65536)))
    with torch.no_grad():
        vq.quantize.codebook_used.copy_((torch.arange(65536) * 7 % V.K).float())
    sd = cast(vq.state_dict(), lambda k: torch.float16 if k.startswith("decoder.") else torch.float32)
    vq.load_state_dict({k: v.float() for k, v in sd.items()})  # PyTorch computes with the weights as stored
    disc = V.NLayerDiscriminator(1, 8, 2)
    args = argparse.Namespace(vq_model="VQ-16", codebook_size=V.K, codebook_embed_dim=V.CD, image_size=32, lr=1e-4,
                              beta1=0.9, beta2=0.95, ema=False, mixed_precision="bf16", results_dir="results_tokenizer_image")
    ckpt = {"model": sd, "discriminator": disc.state_dict(), "steps": 1234, "args": args}
    torch.save(ckpt, os.path.join(LLAMAGEN, "vq.pt"))

    def top2_gap(x):
        with torch.no_grad():
            zn = torch.nn.functional.normalize(torch.einsum('b c h w -> b h w c', vq.quant_conv(vq.encoder(x))).reshape(-1, V.CD), dim=-1)
            top = (zn @ torch.nn.functional.normalize(vq.quantize.embedding.weight, dim=-1).t()).topk(2, dim=1).values
            return (top[:, 0] - top[:, 1]).min().item()

    # Pick images whose codes are no near-ties, so float32 round-off cannot flip an argmin between PyTorch and crt.
    for seed in range(1000):
        torch.manual_seed(seed)
        x = torch.tanh(torch.randn(2, 1, 32, 32) * 1.5)
        if top2_gap(x) > 2e-4:
            break
    with torch.no_grad():
        zq, _, _, idx, _ = vq.quantize(vq.quant_conv(vq.encoder(x)))
        rec = vq.decoder(vq.post_quant_conv(zq))
    print("vq: input seed", seed, "gap", top2_gap(x), "codes used", idx.unique().numel())
    return {"x": x, "indices": idx.to(torch.int64), "rec": rec}


def make_gpt():
    G.DIM, G.LAYERS, G.HEADS, G.MULT, G.VOCAB, G.CLASSES, G.BLOCK = 64, 2, 2, 32, 256, 10, 64
    torch.manual_seed(2)
    model = G.Transformer()
    V.fill(model)  # hashed values: norm weights 1 + 0.1u, the rest 0.05u (the output layer too, unlike LlamaGen's zero init)
    sd = cast(model.state_dict(), lambda k: torch.bfloat16)
    model.load_state_dict({k: v.float() for k, v in sd.items()})
    torch.save(sd, os.path.join(LLAMAGEN, "gpt.pt"))
    grids = torch.randint(0, G.VOCAB, (2, G.BLOCK))
    classes = torch.tensor([3, G.CLASSES])  # a class and the null class
    with torch.no_grad():
        logits, loss = model(grids[:, :-1], classes, grids)
    print("gpt: loss", loss.item(), "params", sum(p.numel() for p in model.parameters()))
    return {"grids": grids.to(torch.int64), "classes": classes.to(torch.int64), "logits": logits}


def torch_archive(path, pickle_bytes, storages=None):
    """A zip in torch.save's layout (stored entries) around a hand-made data.pkl."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        z.writestr("archive/byteorder", "little")
        for key, data in (storages or {}).items():
            z.writestr(f"archive/data/{key}", data)
        z.writestr("archive/version", "3\n")


def rezip_zip64(src, dst):
    """The same archive with zip64 records throughout (sizes, offsets, end of directory), as PyTorch writes
    checkpoints over 4 GiB (c2i_3B_384.pt): Python's zipfile does so for everything above ZIP64_LIMIT."""
    limit = zipfile.ZIP64_LIMIT
    zipfile.ZIP64_LIMIT = 16
    try:
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_STORED) as zout:
            for info in zin.infolist():
                zout.writestr(info.filename, zin.read(info.filename))
    finally:
        zipfile.ZIP64_LIMIT = limit
    # In a small archive Python keeps the real values in the classic end record too; saturate them, as a
    # writer must for a large one, so a reader has to follow the zip64 locator.
    with open(dst, "r+b") as f:
        data = bytearray(f.read())
        eocd = data.rindex(b"PK\x05\x06")
        data[eocd + 8:eocd + 20] = b"\xff\xff\xff\xff" + b"\xff\xff\xff\xff" + b"\xff\xff\xff\xff"
        f.seek(0)
        f.write(data)


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


class EvalEvil:
    def __reduce__(self):
        return (eval, (f"__import__('os').system('touch {MARKER}')",))


def make_torch_fixtures():
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 8 - 0.6
    half = torch.tensor([[0.5, -1.25, 3.0e-5], [65504.0, -2.0, 0.1]], dtype=torch.float16)
    bf = torch.tensor([1.0, -3.140625, 1e-20, 3.0e38], dtype=torch.bfloat16)
    views = {"f32": base, "transposed": base.t(), "offset": base[1:, 2:], "f16": half, "bf16": bf}
    expected = {k: v.float().contiguous().clone() for k, v in views.items()}
    torch.save({"tensors": views, "expected": expected, "param": nn.Parameter(torch.tensor([0.25, -4.0])),
                "plain": [1, -7, 2.5, "text", None, True, (1, 2), {"bytes": b"\x00\xff", 3: "int key"}, 2 ** 70, {1, 2}],
                "ordered": collections.OrderedDict([("b", 1), ("a", 2)])}, os.path.join(TORCH, "tensors.pt"))
    rezip_zip64(os.path.join(TORCH, "tensors.pt"), os.path.join(TORCH, "tensors_zip64.pt"))
    torch.save({"model": {"w": torch.arange(4)}}, os.path.join(TORCH, "int64.pt"))
    torch.save({"w": torch.ones(2)}, os.path.join(TORCH, "legacy.pt"), _use_new_zipfile_serialization=False)
    torch_archive(os.path.join(TORCH, "evil_system.pt"), pickle.dumps(Evil(), protocol=2))
    torch_archive(os.path.join(TORCH, "evil_eval.pt"), pickle.dumps(EvalEvil(), protocol=4))
    torch.save({"model": {"w": torch.ones(2)}, "args": Evil()}, os.path.join(TORCH, "evil_args.pt"))

    storage = object()

    class BadTensor:
        def __reduce__(self):
            return (torch._utils._rebuild_tensor_v2, (storage, 2, (10,), (1,), False, collections.OrderedDict()))

    class TorchPickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", 4) if obj is storage else None

    buf = io.BytesIO()
    TorchPickler(buf, protocol=2).dump({"model": {"w": BadTensor()}})
    torch_archive(os.path.join(TORCH, "offset_oob.pt"), buf.getvalue(), {"0": torch.ones(4).numpy().tobytes()})


def main():
    os.makedirs(LLAMAGEN, exist_ok=True)
    os.makedirs(TORCH, exist_ok=True)
    out = make_vq()
    out.update(make_gpt())
    st.save(os.path.join(LLAMAGEN, "outputs.safetensors"), out, metadata={"script": "tools/parity/make_llamagen_import.py"})
    make_torch_fixtures()
    for d in (LLAMAGEN, TORCH):
        for f in sorted(os.listdir(d)):
            print(f"{os.path.join(d, f)}: {os.path.getsize(os.path.join(d, f))} bytes")


if __name__ == "__main__":
    main()
