"""Writes tests/Crt.Tensors.Tests/data/parity/adamw.safetensors: two AdamW steps of torch.optim.AdamW
with LlamaGen's GPT settings (lr 1e-4 scaled up to 1e-2 so the step is visible in float32, betas
(0.9, 0.95), weight decay 0.05 on >=2-D weights only, eps 1e-8), on a [33, 17] weight and a [17]
bias, with the gradients of both steps stored. Run: /usr/bin/python3 tools/parity/make_adamw.py"""
import os, sys
import torch
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io as st

torch.manual_seed(0)
w = torch.nn.Parameter(torch.randn(33, 17))
b = torch.nn.Parameter(torch.randn(17))
out = {"w0": w.detach().clone(), "b0": b.detach().clone()}
opt = torch.optim.AdamW([{"params": [w], "weight_decay": 0.05}, {"params": [b], "weight_decay": 0.0}],
                        lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
for step in (1, 2):
    w.grad = torch.randn(33, 17) * 0.1
    b.grad = torch.randn(17) * 0.1
    out[f"gw{step}"] = w.grad.clone()
    out[f"gb{step}"] = b.grad.clone()
    opt.step()
    out[f"w{step}"] = w.detach().clone()
    out[f"b{step}"] = b.detach().clone()
out["w_exp_avg_sq"] = opt.state[w]["exp_avg_sq"].clone()
path = os.path.join(here, "../../tests/Crt.Tensors.Tests/data/parity/adamw.safetensors")
st.save(path, out, metadata={"torch": torch.__version__, "script": "tools/parity/make_adamw.py"})
print("wrote", os.path.normpath(path))
