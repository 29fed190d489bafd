"""Where the whole-workload twins (W1–W5) run and how much larger their batches are, as Crt.Bench's --device and
--batch-scale: BENCH_DEVICE=cuda BENCH_BATCH_SCALE=8 bench/torch_bench.py NAME. The kernel twins stay on the CPU."""
import os

import torch

DEVICE = torch.device(os.environ.get("BENCH_DEVICE", "cpu"))
SCALE = int(os.environ.get("BENCH_BATCH_SCALE", "1"))
if os.environ.get("BENCH_TF32") == "1":  # crt's --precision tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
