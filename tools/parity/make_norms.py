"""Writes tests/Crt.Tensors.Tests/data/parity/norms.safetensors: PyTorch (float32) forward outputs and
gradients for a fixed random upstream gradient, for GroupNorm (32 groups, eps 1e-6, affine; also fused
with SiLU), an odd-sized GroupNorm, BatchNorm2d (a training step with its running-stat update, and eval),
LayerNorm, LlamaGen's RMSNorm and the activations. NormalizationParityTests compares crt against it.

    /usr/bin/python3 tools/parity/make_norms.py
"""
import os, sys
import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io as st

torch.manual_seed(0)
out = {}


def leaf(t):
    return t.clone().requires_grad_(True)


def record(prefix, fn, inputs, names, store_inputs=True):
    """Runs fn on leaf copies of inputs, back-propagates a fixed random gradient, stores all of it
    (inputs only when store_inputs: cases that share inputs read them from the first case)."""
    leaves = [leaf(t) for t in inputs]
    y = fn(*leaves)
    g = torch.randn_like(y)
    y.backward(g)
    for n, t, l in zip(names, inputs, leaves):
        if store_inputs:
            out[f"{prefix}.{n}"] = t
        out[f"{prefix}.d{n}"] = l.grad
    out[f"{prefix}.y"] = y.detach()
    out[f"{prefix}.g"] = g


# GroupNorm as in the VQGAN: 32 groups, eps 1e-6, affine; alone and followed by SiLU
x = torch.randn(2, 64, 5, 5) * 1.5 + 0.3
w = 1 + 0.3 * torch.randn(64)
b = 0.2 * torch.randn(64)
record("gn", lambda x, w, b: F.group_norm(x, 32, w, b, 1e-6), [x, w, b], ["x", "w", "b"])
record("gn_silu", lambda x, w, b: F.silu(F.group_norm(x, 32, w, b, 1e-6)), [x, w, b], ["x", "w", "b"], store_inputs=False)
# odd sizes: 3 channels in one group, spatial 5x7
x = torch.randn(2, 3, 5, 7)
record("gn_odd", lambda x, w, b: F.silu(F.group_norm(x, 1, w, b, 1e-5)), [x, 1 + 0.3 * torch.randn(3), 0.2 * torch.randn(3)], ["x", "w", "b"])

# BatchNorm2d: one training step (batch statistics, running stats updated in place) and eval
x = torch.randn(4, 3, 5, 7) * 2 + 1
w = 1 + 0.3 * torch.randn(3)
b = 0.2 * torch.randn(3)
rm = 0.5 * torch.randn(3)
rv = 0.5 + torch.rand(3)
out["bn.running_mean"] = rm.clone()
out["bn.running_var"] = rv.clone()
rm_t, rv_t = rm.clone(), rv.clone()
record("bn_train", lambda x, w, b: F.batch_norm(x, rm_t, rv_t, w, b, training=True, momentum=0.1, eps=1e-5), [x, w, b], ["x", "w", "b"])
out["bn_train.running_mean_after"] = rm_t
out["bn_train.running_var_after"] = rv_t
record("bn_eval", lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False, momentum=0.1, eps=1e-5), [x, w, b], ["x", "w", "b"],
       store_inputs=False)

# LayerNorm and LlamaGen's RMSNorm (computed in float32) over an odd last dim
x = torch.randn(3, 5, 33) + 0.5
record("ln", lambda x, w, b: F.layer_norm(x, (33,), w, b, 1e-5), [x, 1 + 0.3 * torch.randn(33), 0.2 * torch.randn(33)], ["x", "w", "b"])
record("rms", lambda x, w: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w, [x, 1 + 0.3 * torch.randn(33)], ["x", "w"])
# (ln and rms share x but each stores it: they are small)

# activations over a sweep and random values
x = torch.cat([torch.linspace(-10, 10, 201), 3 * torch.randn(100)])
out["act.x"] = x
for name, fn in [("silu", F.silu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("relu", F.relu),
                 ("leaky_relu", lambda t: F.leaky_relu(t, 0.2)), ("gelu", F.gelu),
                 ("gelu_tanh", lambda t: F.gelu(t, approximate="tanh"))]:
    record(f"act_{name}", fn, [x], ["x"], store_inputs=False)

path = os.path.join(here, "../../tests/Crt.Tensors.Tests/data/parity/norms.safetensors")
os.makedirs(os.path.dirname(path), exist_ok=True)
st.save(path, {k: v.detach().contiguous() for k, v in out.items()}, metadata={"torch": torch.__version__})
print(f"wrote {os.path.normpath(path)}: {len(out)} tensors, {os.path.getsize(path)} bytes")
