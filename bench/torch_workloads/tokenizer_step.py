"""The PyTorch twin of TokenizerStepWorkload: the same vq-tiny + CRT modules (tools/parity/make_vq.py,
LlamaGen's VQModel restated), the same losses, clipping and Adam/AdamW steps."""
import os, sys
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tools/parity"))


def _step():
    import make_vq as m
    torch.manual_seed(0)
    from torch_workloads._device import DEVICE, SCALE
    vq, crt = m.VQModel().to(DEVICE), m.CausalRegularizer().to(DEVICE)
    opt_vq = torch.optim.Adam(vq.parameters(), lr=1e-4, betas=(0.9, 0.95))
    opt_crt = torch.optim.AdamW(crt.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.0)
    n = 32 * SCALE
    x = (torch.rand(n, 1, 32, 32) * 2 - 1).to(DEVICE)

    def run():
        opt_vq.zero_grad(set_to_none=True)
        opt_crt.zero_grad(set_to_none=True)
        h = vq.quant_conv(vq.encoder(x))
        zq, vq_loss, commit, idx, zn = vq.quantize(h)
        rec = vq.decoder(vq.post_quant_conv(zq))
        loss = F.mse_loss(rec, x) + vq_loss + commit + 2.0 * crt(zn.reshape(n, 64, 8))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vq.parameters(), 1.0)
        torch.nn.utils.clip_grad_norm_(crt.parameters(), 1.0)
        opt_vq.step()
        opt_crt.step()
    return run


WORKLOADS = {"vqtiny-crt-train-step-b32": (_step, 0.0)}
