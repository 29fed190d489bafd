"""Writes tiny_torch_state.safetensors: the state dict of a small PyTorch module tree that NnTests
rebuilds with crt modules and loads strictly (run: /usr/bin/python3 make_nn_data.py). Prints the names."""
import os, sys
import torch
from torch import nn
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "../../../tools/parity"))
import safetensors_io as st

class RMSNorm(nn.Module):  # LlamaGen's
    def __init__(self, dim, eps=1e-5):
        super().__init__(); self.eps = eps; self.weight = nn.Parameter(torch.ones(dim))

class Attention(nn.Module):
    def __init__(self):
        super().__init__(); self.wqkv = nn.Linear(8, 24, bias=False); self.wo = nn.Linear(8, 8, bias=False)

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = Attention(); self.attention_norm = RMSNorm(8); self.ffn_norm = RMSNorm(8)
        self.drop = nn.Dropout(0.1)

class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_in = nn.Conv2d(3, 4, 3, padding=1); self.norm = nn.GroupNorm(2, 4); self.bn = nn.BatchNorm2d(4)
        self.ln = nn.LayerNorm(4)

class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder(); self.tok_embeddings = nn.Embedding(10, 8)
        self.layers = nn.ModuleList([Block() for _ in range(2)])
        self.head = nn.Sequential(nn.Linear(8, 16), nn.SiLU(), nn.Linear(16, 10))

torch.manual_seed(0)
m = Tiny()
with torch.no_grad():
    m.encoder.bn.running_mean.copy_(torch.arange(4.0)); m.encoder.bn.running_var.fill_(2.0)
    m.encoder.bn.num_batches_tracked.fill_(5)
    m.layers[1].ffn_norm.weight.fill_(0.25)
sd = m.state_dict()
st.save(os.path.join(here, "tiny_torch_state.safetensors"), dict(sd))
for k, v in sd.items():
    print(k, list(v.shape), v.dtype)
