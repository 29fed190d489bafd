#!/usr/bin/python3
"""Seed inputs that crt cannot write itself: torch.save files (the formats `crt import llamagen` reads),
images in the five formats crt decodes, and config / sweep-plan JSON. Run once; the seeds are committed.
Usage: /usr/bin/python3 fuzz/make_seeds.py fuzz/seeds"""
import argparse, io, json, os, shutil, sys

import torch
from PIL import Image

out = sys.argv[1]
def target(name):
    d = os.path.join(out, name); os.makedirs(d, exist_ok=True); return d

# torch.save files: a float32 state dict, half and bfloat16 storages, a strided view, LlamaGen's
# {"model": ..., "args": Namespace} layout, and the legacy-looking nested lists.
torch.manual_seed(0)
t = target("torch")
torch.save({"w": torch.randn(2, 3), "b": torch.zeros(2)}, os.path.join(t, "f32.pt"))
torch.save({"h": torch.randn(3).half(), "bf": torch.randn(2, 2).bfloat16()}, os.path.join(t, "half.pt"))
base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
torch.save({"view": base.t(), "slice": base[1:, 1:3]}, os.path.join(t, "strided.pt"))
torch.save({"model": {"tok_embeddings.weight": torch.randn(4, 2)}, "args": argparse.Namespace(vocab_size=4, dim=2),
            "steps": 10, "names": ["a", "b"], "pair": (1.5, None), "flags": {True, False}}, os.path.join(t, "llamagen.pt"))

# Images, 3×2 pixels, in every format crt decodes (and a gray and a paletted one).
i = target("image")
img = Image.new("RGB", (3, 2))
img.putdata([(255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 9, 9), (128, 64, 32), (255, 255, 255)])
img.save(os.path.join(i, "rgb.png"))
img.convert("L").save(os.path.join(i, "gray.png"))
img.convert("RGBA").save(os.path.join(i, "rgba.png"))
img.save(os.path.join(i, "rgb.jpg"), quality=80)
img.save(os.path.join(i, "rgb.bmp"))
img.convert("P").save(os.path.join(i, "rgb.gif"))
img.save(os.path.join(i, "rgb.webp"), lossless=True)

# Config files and sweep plans: the repository's own, and small ones.
here = os.path.dirname(os.path.abspath(__file__))
configs = os.path.join(here, "..", "configs")
c = target("config")
for name in ["tokenizer-vq-tiny-crt.json", "gpt-t4.json"]:
    shutil.copy(os.path.join(configs, name), c)
json.dump({"preset": "vq-tiny", "steps": 10, "crt": {"lambda_max": 2}}, open(os.path.join(c, "small.json"), "w"))
p = target("plan")
shutil.copy(os.path.join(configs, "sweep-smoke.json"), p)
json.dump({"tokenizers": [{"name": "b", "preset": "vq-tiny", "set": {"steps": 10}}],
           "gpt": {"presets": ["gpt-t1"], "steps": {"first": 5, "last": 20, "count": 2}}},
          open(os.path.join(p, "small.json"), "w"))
