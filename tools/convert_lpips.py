"""Makes the LPIPS-VGG16 weights file crt's perceptual loss loads (lpips_weights in a tokenizer config).

You need the two files LPIPS is made of, which crt cannot download for you:
  --vgg    torchvision's ImageNet VGG16 weights (vgg16-397923af.pth, from torchvision's model zoo)
  --lin    the LPIPS linear heads (vgg.pth from taming-transformers / LlamaGen, md5 d507d7349b931f0638a25a48a722f98a)
Writes one safetensors file with the keys of LlamaGen's LPIPS module (scaling_layer.*, net.sliceK.i.*,
linK.model.1.weight). Run: /usr/bin/python3 tools/convert_lpips.py --vgg vgg16.pth --lin vgg.pth --out lpips-vgg16.safetensors"""
import argparse, os, sys
import torch
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "parity"))
import safetensors_io as st
from make_lpips import LPIPS


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vgg", required=True)
    ap.add_argument("--lin", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    lp = LPIPS()
    vgg = torch.load(a.vgg, map_location="cpu")
    feats = {k[len("features."):]: v for k, v in vgg.items() if k.startswith("features.")}
    bounds = [(0, 4), (4, 9), (9, 16), (16, 23), (23, 30)]
    state = {}
    for k, (lo, hi) in enumerate(bounds):
        for name, v in feats.items():
            idx = int(name.split(".")[0])
            if lo <= idx < hi:
                state[f"net.slice{k + 1}.{name}"] = v
    lin = torch.load(a.lin, map_location="cpu")
    for name, v in lin.items():
        if name.startswith("lin"):
            state[name] = v
    missing, unexpected = lp.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.startswith("scaling_layer.")]
    if missing or unexpected:
        sys.exit(f"weights do not fit LPIPS-VGG16: missing {missing}, unexpected {unexpected}")
    st.save(a.out, {k: v.float().contiguous() for k, v in lp.state_dict().items()}, metadata={"source": "tools/convert_lpips.py"})
    print("wrote", a.out)


if __name__ == "__main__":
    main()
