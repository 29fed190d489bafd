"""Saves checkpoints from LlamaGen's own model code (a checkout of github.com/FoundationVision/LlamaGen)
at the released models' sizes and in their layout, so `crt import llamagen` can be tried on files whose
parameter names, shapes and container come from LlamaGen itself rather than from crt's restatements
(tools/parity/make_llamagen_import.py writes the small committed fixtures):

  OUT/vq_ds16_c2i.pt   VQ_16, codebook 16384 x 8, as vq_train.py saves it ({"model", "steps", "args"})
  OUT/c2i_B_256.pt     GPT_B, c2i, 1000 classes, 256 tokens, as train_c2i.py saves it ({"model", "steps", "args"})
  OUT/outputs.safetensors  what LlamaGen's code computes with them: a 256x256 image x, its codes and
                       reconstruction; token grids, class ids and GPT-B's logits (training-mode forward,
                       dropouts off)

The weights are random (LlamaGen's init; GPT-B's zero-initialised output layer made random so the logits
say something), so these files test names, shapes and the container, not a trained model. PyTorch 1.13
(Debian) has no F.scaled_dot_product_attention; an explicit one stands in for it.
Run: /usr/bin/python3 tools/parity/check_llamagen_source.py --llamagen DIR --out DIR
"""
import argparse, math, os, sys
import torch
import torch.nn.functional as F
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io as st


def sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if is_causal:
        s = s.masked_fill(torch.ones(s.shape[-2], s.shape[-1], dtype=torch.bool).triu(1), float("-inf"))
    elif attn_mask is not None:
        s = s.masked_fill(~attn_mask, float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llamagen", required=True, help="a LlamaGen checkout")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    sys.path.insert(0, os.path.abspath(a.llamagen))
    from tokenizer.tokenizer_image.vq_model import VQ_models
    from autoregressive.models.gpt import GPT_models
    if not hasattr(F, "scaled_dot_product_attention"):
        F.scaled_dot_product_attention = sdpa
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(0)
    torch.set_grad_enabled(False)

    vq = VQ_models["VQ-16"](codebook_size=16384, codebook_embed_dim=8).eval()
    print("VQ-16 parameters", sum(p.numel() for p in vq.parameters()))
    torch.save({"model": vq.state_dict(), "steps": 0, "args": argparse.Namespace(vq_model="VQ-16", image_size=256)},
               os.path.join(a.out, "vq_ds16_c2i.pt"))
    x = torch.tanh(torch.randn(1, 3, 256, 256))
    quant, _, (_, _, idx) = vq.encode(x)
    rec = vq.decode(quant)

    gpt = GPT_models["GPT-B"](vocab_size=16384, block_size=256, num_classes=1000, cls_token_num=1, model_type="c2i",
                              token_dropout_p=0.0, resid_dropout_p=0.0, ffn_dropout_p=0.0)
    torch.nn.init.normal_(gpt.output.weight, std=0.02)
    gpt.cls_embedding.dropout_prob = 0.0  # keep the null-class row, but drop no labels in this forward
    print("GPT-B parameters", sum(p.numel() for p in gpt.parameters()))
    torch.save({"model": gpt.state_dict(), "steps": 0, "args": argparse.Namespace(gpt_model="GPT-B", image_size=256)},
               os.path.join(a.out, "c2i_B_256.pt"))
    grids = torch.randint(0, 16384, (2, 256))
    classes = torch.tensor([207, 1000])
    gpt.train()
    logits, _ = gpt(grids[:, :-1], classes)
    st.save(os.path.join(a.out, "outputs.safetensors"),
            {"x": x, "indices": idx.to(torch.int64), "rec": rec, "grids": grids, "classes": classes, "logits": logits},
            metadata={"script": "tools/parity/check_llamagen_source.py"})
    print("wrote", a.out)


if __name__ == "__main__":
    main()
