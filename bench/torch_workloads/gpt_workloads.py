"""PyTorch twins of bench/Crt.Bench/Workloads/GptWorkloads.cs: the same GPT (crt's Gpt restated in
_models.py from tools/parity/make_gpt.py), the same dropouts, loss, clipping, AdamW and sampler."""
import torch

from ._device import DEVICE, SCALE
from ._models import Transformer, gpt_config, generate

# GptTrainConfig's defaults (src/Crt/Training/GptTrainConfig.cs)
LR, BETAS, WEIGHT_DECAY, GRAD_CLIP = 1e-4, (0.9, 0.95), 0.05, 1.0


def tiny_tokens_config(preset="gpt-t4"):
    """A preset shaped for vq-tiny's tokens (V 512, 10 classes, 8×8), as `crt gpt train` builds it from a token store."""
    return gpt_config(preset, vocab_size=512, num_classes=10, block_size=64)


# zero_grad(set_to_none=False): gradient buffers are kept and cleared, as crt's ZeroGrad does; measured here
# 10-30% faster for these models than set_to_none=True (fresh 27-444 MB of gradients each step).
SET_TO_NONE = False


def _random_batch(c, batch):
    return (torch.randint(0, c.num_classes, (batch,)).to(DEVICE),
            torch.randint(0, c.vocab_size, (batch, c.block_size)).to(DEVICE))


def _train_step(preset, batch):
    torch.manual_seed(0)
    model = Transformer(tiny_tokens_config(preset)).train().to(DEVICE)
    decay = [p for p in model.parameters() if p.dim() >= 2]  # ParamGroup.DecayAndNoDecay (LlamaGen's groups)
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=1e-8)
    classes, grids = _random_batch(model.config, batch * SCALE)

    def run():
        opt.zero_grad(set_to_none=SET_TO_NONE)
        model.loss(classes, grids).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        opt.step()
    return run


def _gpt_b_fwdbwd():
    torch.manual_seed(0)
    model = Transformer(gpt_config("gpt-b")).train().to(DEVICE)
    classes, grids = _random_batch(model.config, 2 * SCALE)

    def run():
        model.zero_grad(set_to_none=SET_TO_NONE)
        model.loss(classes, grids).backward()
    return run


def _sample():
    torch.manual_seed(0)
    model = Transformer(tiny_tokens_config()).to(DEVICE)
    classes = (torch.arange(64 * SCALE) % model.config.num_classes).to(DEVICE)

    def run():
        generate(model, classes, cfg_scale=2.0, generator=torch.Generator(device=DEVICE).manual_seed(1))
    return run


def _sample_gpt_b():
    torch.manual_seed(0)
    model = Transformer(gpt_config("gpt-b", block_size=16)).to(DEVICE)
    classes = torch.tensor([207], device=DEVICE)

    def run():
        generate(model, classes, cfg_scale=2.0, generator=torch.Generator(device=DEVICE).manual_seed(1))
    return run


WORKLOADS = {
    "gpt-t4-train-step-b32": (lambda: _train_step("gpt-t4", 32), 0.0),
    "gpt-t2-train-step-b64": (lambda: _train_step("gpt-t2", 64), 0.0),
    "sample-64-cfg2-kvcache": (_sample, 0.0),
    "gpt-b-fwdbwd-b2": (_gpt_b_fwdbwd, 0.0),
    "sample-gptb-1-cfg2-16tok": (_sample_gpt_b, 0.0),
}
