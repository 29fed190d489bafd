"""PyTorch twin of bench/Crt.Bench: `torch_bench.py list | NAME [--seconds S]`, same JSON line out.

Workloads live in bench/torch_workloads/*.py, each exporting WORKLOADS = {name: (setup, flops)}
where setup() returns the zero-argument callable to time. Runs with 2 threads, as crt does.
"""
import importlib, json, os, pathlib, sys, time

import torch

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))

def load():
    here = pathlib.Path(__file__).parent / "torch_workloads"
    sys.path.insert(0, str(here.parent))
    out = {}
    for f in sorted(here.glob("*.py")):
        if f.name.startswith("_"):
            continue
        mod = importlib.import_module("torch_workloads." + f.stem)
        out.update(mod.WORKLOADS)
    return out

def main():
    ws = load()
    if len(sys.argv) < 2 or sys.argv[1] == "list":
        print("\n".join(sorted(ws)))
        return 0
    name = sys.argv[1]
    seconds = float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 1.0
    if name not in ws:
        print(f"unknown workload '{name}'", file=sys.stderr)
        return 2
    setup, flops = ws[name]
    body = setup()
    if os.environ.get("BENCH_AUTOCAST") == "bf16":  # crt's --precision bf16: bf16 products, fp32 weights and reductions
        def run():
            with torch.autocast("cuda", dtype=torch.bfloat16):
                body()
    else:
        run = body
    # a GPU's kernels are asynchronous: an iteration ends when they have run (crt's Crt.Bench synchronizes too)
    fn = (lambda: (run(), torch.cuda.synchronize())) if torch.cuda.is_available() and os.environ.get("BENCH_DEVICE", "cpu").startswith("cuda") else run
    t0 = time.perf_counter()
    n = 0
    while n < 3 or time.perf_counter() - t0 < seconds / 3:
        fn(); n += 1
    times = []
    t0 = time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - t0 < seconds and len(times) < 1000):
        s = time.perf_counter(); fn(); times.append((time.perf_counter() - s) * 1000)
    print(json.dumps({"workload": name, "flops": flops, "ms": times}))
    return 0

if __name__ == "__main__":
    sys.exit(main())
