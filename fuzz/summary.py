#!/usr/bin/python3
"""The README's fuzzing table from fuzz/results.tsv: per target, the runs summed (afl-fuzz's own counts).
Usage: /usr/bin/python3 fuzz/summary.py [fuzz/results.tsv]"""
import collections, csv, os, sys

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.tsv")
rows = collections.defaultdict(list)
with open(path) as f:
    for r in csv.DictReader(f, delimiter="\t"):
        rows[r["target"]].append(r)

print("| target | runs | fuzzing time | CPU time | inputs tried | inputs/s | paths (last run) | edges (last run) | crashes + hangs saved | corpus kept |")
print("|---|---|---|---|---|---|---|---|---|---|")
for target, rs in rows.items():
    seconds = sum(int(r["seconds"]) for r in rs)
    execs = sum(int(r["execs"]) for r in rs)
    found = sum(int(r["crashes"]) + int(r["hangs"]) for r in rs)
    last = rs[-1]
    timed = [r for r in rs if r.get("cpu_seconds")]  # runs before the column existed have no CPU time
    cpu = ("not measured" if not timed else f"{sum(int(r['cpu_seconds']) for r in timed) / 60:.1f} min"
           + (f" (in the {len(timed)} of {len(rs)} runs measured)" if len(timed) < len(rs) else ""))
    print(f"| {target} | {len(rs)} | {seconds / 60:.1f} min | {cpu} | {execs:,} | {execs / max(seconds, 1):,.0f} | {last['paths']} | {last['edges']} "
          f"| {found} | {last['corpus_kept']} |")
