#!/usr/bin/env python3
"""The tokenizers' validation curves of a saved sweep, as a markdown table: has reconstruction flattened?

    tools/tokenizer_curves.py docs/ablation            # every arm
    tools/tokenizer_curves.py docs/ablation baseline crt

Reads the tokenizer-NAME.metrics.jsonl files that tools/sweep_results.sh saves for each replicate folder
(seed-tT-gG/) and prints, per arm, validation PSNR and codebook usage at each validation step as the mean over
the replicates (± the half-width of the 95% Student-t interval when there are several), and the PSNR gained over
the last quarter of the steps, the "flattened" test declared in docs/results.md (under 0.1 dB).
"""
import json, math, pathlib, statistics, sys

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def mean_interval(values, fmt):
    m = statistics.fmean(values)
    if len(values) < 2:
        return format(m, fmt)
    half = T975.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))
    return f"{format(m, fmt)} ± {format(half, fmt)}"


def val_records(path):
    out = {}
    for line in path.read_text().splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line
        if r.get("kind") == "val":
            out[r["step"]] = r  # the latest record of a step wins (a resumed run may repeat one)
    return out


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    root = pathlib.Path(sys.argv[1])
    folders = sorted(p for p in root.glob("seed-t*-g*") if p.is_dir()) or [root]
    curves = {}  # arm -> list of {step: record}, one per replicate
    for f in folders:
        for m in sorted(f.glob("tokenizer-*.metrics.jsonl")):
            arm = m.name[len("tokenizer-"):-len(".metrics.jsonl")]
            curves.setdefault(arm, []).append(val_records(m))
    arms = sys.argv[2:] or sorted(curves)
    missing = [a for a in arms if a not in curves]
    if missing:
        sys.exit(f"tokenizer_curves: no metrics for {', '.join(missing)} under {root} (have: {', '.join(sorted(curves)) or 'none'})")

    print("| arm | replicates | step | PSNR (dB) | codebook usage |")
    print("|---|---|---|---|---|")
    for arm in arms:
        reps = curves[arm]
        steps = sorted(set.intersection(*(set(r) for r in reps)))
        for s in steps:
            print(f"| {arm} | {len(reps)} | {s} | {mean_interval([r[s]['psnr'] for r in reps], '.2f')} "
                  f"| {mean_interval([100 * r[s]['codebook_usage'] for r in reps], '.1f')}% |")
    print()
    print("| arm | last step | PSNR gained over the last quarter of the steps (dB) | flattened (< 0.1 dB) |")
    print("|---|---|---|---|")
    for arm in arms:
        reps = curves[arm]
        steps = sorted(set.intersection(*(set(r) for r in reps)))
        last = steps[-1]
        # The validation step nearest to three quarters of the run.
        q = min(steps, key=lambda s: abs(s - 0.75 * last))
        gains = [r[last]["psnr"] - r[q]["psnr"] for r in reps]
        print(f"| {arm} | {last} (from step {q}) | {mean_interval(gains, '.2f')} | {'yes' if statistics.fmean(gains) < 0.1 else 'no'} |")


if __name__ == "__main__":
    main()
