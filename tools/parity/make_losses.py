"""Writes tests/Crt.Tensors.Tests/data/parity/losses.safetensors (run: /usr/bin/python3 tools/parity/make_losses.py).

F.cross_entropy on logits [37, 50] with targets that include the ignore index (loss, dlogits of the mean loss),
reduction='none' per-position losses and their dlogits for a fixed upstream gradient, F.mse_loss with gradients
of prediction and target, and log_softmax along axis 1 of a [3, 7, 5] tensor with its input gradient.
Everything is computed by torch in float64 from float32 inputs and stored as float32.
"""
import os, sys
import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io as st

OUT = os.path.join(here, "../../tests/Crt.Tensors.Tests/data/parity/losses.safetensors")


def main():
    torch.manual_seed(99)
    N, C, IGNORE = 37, 50, -1
    logits = torch.randn(N, C) * 3
    targets = torch.randint(0, C, (N,))
    targets[[2, 11, 30]] = IGNORE
    x = logits.double().requires_grad_()
    loss = F.cross_entropy(x, targets, ignore_index=IGNORE)
    loss.backward()
    ce_dlogits = x.grad.float()

    targets_pp = torch.randint(0, C, (N,))
    targets_pp[5] = -100  # reduction 'none' with the default ignore index: loss 0, no gradient
    x2 = logits.double().requires_grad_()
    pp = F.cross_entropy(x2, targets_pp, reduction="none")
    pp_grad = torch.randn(N)
    pp.backward(pp_grad.double())

    pred, target = torch.randn(6, 11), torch.randn(6, 11)
    p, t = pred.double().requires_grad_(), target.double().requires_grad_()
    mse = F.mse_loss(p, t)
    mse.backward()

    sx = torch.randn(3, 7, 5) * 2
    s = sx.double().requires_grad_()
    ls = F.log_softmax(s, dim=1)
    ls_grad = torch.randn(3, 7, 5)
    ls.backward(ls_grad.double())

    st.save(OUT, {
        "logits": logits, "targets": targets.int(), "ignore_index": torch.tensor(float(IGNORE)),
        "ce_loss": loss.detach().float(), "ce_dlogits": ce_dlogits,
        "targets_pp": targets_pp.int(), "ce_pp_loss": pp.detach().float(), "ce_pp_grad": pp_grad,
        "ce_pp_dlogits": x2.grad.float(),
        "mse_pred": pred, "mse_target": target, "mse_loss": mse.detach().float(),
        "mse_dpred": p.grad.float(), "mse_dtarget": t.grad.float(),
        "softmax_x": sx, "log_softmax_axis1": ls.detach().float(), "log_softmax_grad": ls_grad,
        "log_softmax_dx": s.grad.float(),
    }, metadata={"torch": torch.__version__, "script": "tools/parity/make_losses.py"})
    print(OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
