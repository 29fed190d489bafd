"""Writes tests/Crt.Tests/data/parity/eval_metrics.safetensors: reference values for crt's evaluation
metrics, computed by the implementations reviewers use.
  - PSNR and SSIM: skimage.metrics (Debian's python3-skimage) with its defaults (7x7 uniform window,
    sample covariance), data_range 2 for pixels in [-1, 1]; RGB images with channel_axis=0.
  - MS-SSIM: a PyTorch re-statement of pytorch_msssim.ms_ssim (11x11 Gaussian, sigma 1.5, 5 scales,
    weights 0.0448 0.2856 0.3001 0.2363 0.1333), since that package is not in Debian.
  - Frechet distance: pytorch-fid's calculate_frechet_distance (scipy.linalg.sqrtm), restated.
  - Inception Score: the original formula (mean over splits of exp(mean KL(p(y|x) || p(y)))).
  - Improved precision/recall: brute-force k-NN radii (k = 3) as Kynkaanniemi et al.
Run: /usr/bin/python3 tools/parity/make_eval_metrics.py"""
import os, sys
import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from skimage.metrics import structural_similarity, peak_signal_noise_ratio
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io as st

rng = np.random.default_rng(0)
out = {}

# ---- PSNR / SSIM (skimage) ------------------------------------------------------------------------
gray_x = np.tanh(rng.normal(size=(3, 1, 32, 32))).astype(np.float32)
gray_y = np.clip(gray_x + 0.2 * rng.normal(size=gray_x.shape), -1, 1).astype(np.float32)
rgb_x = np.tanh(rng.normal(size=(2, 3, 20, 25))).astype(np.float32)
rgb_y = np.clip(rgb_x + 0.3 * rng.normal(size=rgb_x.shape), -1, 1).astype(np.float32)
out.update(gray_x=gray_x, gray_y=gray_y, rgb_x=rgb_x, rgb_y=rgb_y)
out["gray_ssim"] = np.array([structural_similarity(a[0], b[0], data_range=2.0) for a, b in zip(gray_x, gray_y)])
out["gray_psnr"] = np.array([peak_signal_noise_ratio(a, b, data_range=2.0) for a, b in zip(gray_x, gray_y)])
out["rgb_ssim"] = np.array([structural_similarity(a, b, data_range=2.0, channel_axis=0) for a, b in zip(rgb_x, rgb_y)])

# ---- MS-SSIM (pytorch_msssim restated) -----------------------------------------------------------
def _gauss(size=11, sigma=1.5):
    coords = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    return g / g.sum()

def _filter(x, g):
    c = x.shape[1]
    x = F.conv2d(x, g.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, g.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)

def _ssim(x, y, data_range, g):
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu1, mu2 = _filter(x, g), _filter(y, g)
    s1 = _filter(x * x, g) - mu1 ** 2
    s2 = _filter(y * y, g) - mu2 ** 2
    s12 = _filter(x * y, g) - mu1 * mu2
    cs_map = (2 * s12 + c2) / (s1 + s2 + c2)
    ssim_map = (2 * mu1 * mu2 + c1) / (mu1 ** 2 + mu2 ** 2 + c1) * cs_map
    return ssim_map.flatten(2).mean(-1), cs_map.flatten(2).mean(-1)

def ms_ssim(x, y, data_range):
    w = torch.tensor([0.0448, 0.2856, 0.3001, 0.2363, 0.1333], dtype=torch.float64)
    g = _gauss()
    mcs = []
    for i in range(5):
        ssim_pc, cs = _ssim(x, y, data_range, g)
        if i < 4:
            mcs.append(torch.relu(cs))
            pad = [s % 2 for s in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=pad)
            y = F.avg_pool2d(y, kernel_size=2, padding=pad)
    stacked = torch.stack(mcs + [torch.relu(ssim_pc)], dim=0)
    return torch.prod(stacked ** w.view(-1, 1, 1), dim=0).mean(1)

big_x = np.tanh(rng.normal(size=(1, 1, 163, 170))).astype(np.float32)
big_x = (0.5 * big_x + 0.5 * np.sin(np.arange(170) / 9.0)[None, None, None, :]).astype(np.float32)
big_y = np.clip(big_x + 0.25 * rng.normal(size=big_x.shape), -1, 1).astype(np.float32)
out.update(big_x=big_x, big_y=big_y)
out["big_ms_ssim"] = ms_ssim(torch.from_numpy(big_x).double(), torch.from_numpy(big_y).double(), 2.0).numpy()

# ---- Frechet distance (pytorch-fid) --------------------------------------------------------------
fa = rng.normal(size=(50, 8)).astype(np.float32)
fb = (rng.normal(size=(60, 8)) @ rng.normal(size=(8, 8)) * 0.7 + 0.3).astype(np.float32)
def fid(a, b):
    m1, m2 = a.astype(np.float64).mean(0), b.astype(np.float64).mean(0)
    s1, s2 = np.cov(a.astype(np.float64), rowvar=False), np.cov(b.astype(np.float64), rowvar=False)
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    covmean = covmean.real
    return ((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
out.update(fid_a=fa, fid_b=fb, fid=np.array([fid(fa, fb)]))

# ---- Inception Score ---------------------------------------------------------------------------
logits = rng.normal(size=(40, 10)) * 2
probs = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
scores = []
for part in np.array_split(probs.astype(np.float64), 4):
    py = part.mean(0, keepdims=True)
    scores.append(np.exp((part * (np.log(part) - np.log(py))).sum(1).mean()))
out.update(is_probs=probs, is_mean_std=np.array([np.mean(scores), np.std(scores)]))

# ---- improved precision / recall ---------------------------------------------------------------
real = rng.normal(size=(70, 5)).astype(np.float32)
fake = (rng.normal(size=(55, 5)) * 1.3 + 0.4).astype(np.float32)
def radii(x, k=3):
    d = ((x[:, None, :].astype(np.float64) - x[None, :, :]) ** 2).sum(-1)
    return np.sort(d, axis=1)[:, k]
def coverage(q, m, r):
    d = ((q[:, None, :].astype(np.float64) - m[None, :, :]) ** 2).sum(-1)
    return float((d <= r[None, :]).any(1).mean())
out.update(pr_real=real, pr_fake=fake,
           pr=np.array([coverage(fake, real, radii(real)), coverage(real, fake, radii(fake))]))

path = os.path.join(here, "../../tests/Crt.Tests/data/parity/eval_metrics.safetensors")
st.save(path, {k: torch.from_numpy(np.ascontiguousarray(v).astype(np.float32)) for k, v in out.items()},
        metadata={"script": "tools/parity/make_eval_metrics.py"})
print("wrote", os.path.normpath(path), {k: v for k, v in out.items() if v.size <= 4})
