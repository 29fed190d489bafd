#!/usr/bin/env python3
"""Times two builds of crt's benchmarks against each other (a refactoring must not slow the CPU), alternating
old/new per round so drift on a shared machine falls on both sides:

    git worktree add /tmp/old REV && dotnet build /tmp/old/bench/Crt.Bench -c Release -o /tmp/bench-old
    dotnet build bench/Crt.Bench -c Release -o /tmp/bench-new
    bench/compare_builds.py /tmp/bench-old /tmp/bench-new add-32x64x32x32,sgemm-1024 --rounds 4

Prints, per workload, the median of each side's per-round medians and new/old. Name the CPU beside the numbers.
"""
import argparse, json, os, statistics, subprocess


def median_ms(build, workload, seconds):
    # Both builds compiled at once, as Crt.Bench.csproj asks since 2026-12-08 (an older build's runtimeconfig does not).
    env = dict(os.environ, DOTNET_TieredCompilation="0")
    out = subprocess.run([f"{build}/Crt.Bench", workload, "--seconds", str(seconds)], capture_output=True, text=True, timeout=600,
                         check=True, env=env).stdout
    return statistics.median(json.loads([l for l in out.splitlines() if l.startswith("{")][-1])["ms"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old"); ap.add_argument("new"); ap.add_argument("workloads")
    ap.add_argument("--rounds", type=int, default=2); ap.add_argument("--seconds", type=float, default=1.0)
    a = ap.parse_args()
    for w in a.workloads.split(","):
        times = {"old": [], "new": []}
        for r in range(a.rounds):
            for side in (("old", "new") if r % 2 == 0 else ("new", "old")):
                times[side].append(median_ms(getattr(a, side), w, a.seconds))
        o, n = statistics.median(times["old"]), statistics.median(times["new"])
        print(f"{w:40s} old {o:10.3f} ms  new {n:10.3f} ms  new/old {n / o:6.3f}  "
              f"(old {', '.join(f'{t:.3f}' for t in times['old'])}; new {', '.join(f'{t:.3f}' for t in times['new'])})", flush=True)


if __name__ == "__main__":
    main()
