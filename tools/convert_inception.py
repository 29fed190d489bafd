"""Makes the InceptionV3-FID weights file crt loads (crt eval --inception FILE).

You need pytorch-fid's FID weights, which crt cannot download for you:
  https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
(the TF inception-2015-12-05 graph FID was defined with, ported to PyTorch; torch.hub names such files by
the first digits of their SHA-256, which this script prints for you to compare). The file is a state dict
of pytorch-fid's fid_inception_v3(); it is loaded into a restatement of that network
(tools/parity/make_inception.py), so a wrong or partial file fails here, and written as one float32
safetensors file with the same keys (Conv2d_1a_3x3.conv.weight, ..., Mixed_7c.branch_pool.bn.running_var,
fc.weight, fc.bias). Run:
  /usr/bin/python3 tools/convert_inception.py --weights pt_inception-2015-12-05-6726825d.pth --out inception-v3-fid.safetensors"""
import argparse, hashlib, os, sys
import torch
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "parity"))
import safetensors_io as st
from make_inception import fid_inception_v3


class ConversionError(Exception):
    pass


def convert(state):
    """pytorch-fid's state dict -> {key: float32 tensor} of the full FID network (num_batches_tracked filled in if absent)."""
    if not isinstance(state, dict):
        raise ConversionError(f"expected a state dict, got {type(state).__name__}")
    net = fid_inception_v3()
    try:
        missing, unexpected = net.load_state_dict(state, strict=False)
    except RuntimeError as e:  # size mismatches
        raise ConversionError(f"weights do not fit InceptionV3-FID: {e}") from e
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ConversionError(f"weights do not fit InceptionV3-FID: missing {missing[:5]} ({len(missing)} in all), "
                              f"unexpected {unexpected[:5]} ({len(unexpected)} in all)")
    return {k: v.detach().float().contiguous() for k, v in net.state_dict().items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="pt_inception-2015-12-05-6726825d.pth")
    ap.add_argument("--out", required=True, help="the safetensors file to write")
    a = ap.parse_args()
    with open(a.weights, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    print(f"{a.weights}: sha256 {sha} (pytorch-fid's file name carries 6726825d)")
    try:
        tensors = convert(torch.load(a.weights, map_location="cpu"))
    except ConversionError as e:
        sys.exit(f"{a.weights}: {e}")
    st.save(a.out, tensors, metadata={"source": os.path.basename(a.weights), "sha256": sha, "network": "inception-v3-fid",
                                       "converter": "tools/convert_inception.py"})
    print(f"wrote {a.out} ({len(tensors)} tensors)")


if __name__ == "__main__":
    main()
