"""Writes tests/Crt.Tensors.Tests/data/parity/linear.safetensors: F.linear on x [4,7,33], weight [17,33],
bias [17] with the gradients for a fixed random upstream gradient, and torch.matmul forward/backward
for a batched pair [3,5,33]x[3,33,17] and a shared 2-D b [2,3,9,20]x[20,11].
Run: /usr/bin/python3 tools/parity/make_linear.py"""
import os, sys
import torch
import torch.nn.functional as F
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io as st

torch.manual_seed(0)
out = {}
x = torch.randn(4, 7, 33, requires_grad=True)
w = torch.randn(17, 33, requires_grad=True)
b = torch.randn(17, requires_grad=True)
y = F.linear(x, w, b)
gy = torch.randn_like(y)
y.backward(gy)
out.update(x=x.detach(), weight=w.detach(), bias=b.detach(), output=y.detach(), grad_output=gy,
           dx=x.grad, dweight=w.grad, dbias=b.grad)

for tag, sa, sb in (("mm_batched", (3, 5, 33), (3, 33, 17)), ("mm_shared", (2, 3, 9, 20), (20, 11))):
    a = torch.randn(*sa, requires_grad=True)
    bb = torch.randn(*sb, requires_grad=True)
    c = torch.matmul(a, bb)
    gc = torch.randn_like(c)
    c.backward(gc)
    out.update({f"{tag}_a": a.detach(), f"{tag}_b": bb.detach(), f"{tag}_out": c.detach(),
                f"{tag}_grad_output": gc, f"{tag}_da": a.grad, f"{tag}_db": bb.grad})

path = os.path.join(here, "../../tests/Crt.Tensors.Tests/data/parity/linear.safetensors")
st.save(path, out, metadata={"torch": torch.__version__, "script": "tools/parity/make_linear.py"})
print("wrote", os.path.normpath(path))
