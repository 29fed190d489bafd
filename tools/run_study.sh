#!/usr/bin/env bash
# Runs what is left of the generation study declared in docs/results.md, part after part in the declared order, each
# `crt sweep` resuming where the last one stopped (recorded points are skipped, a tokenizer or GPT stopped mid-run
# resumes from its checkpoint). Stop it with one SIGTERM to the sweep process: the sweep saves, exits non-zero, and
# the parts after it do not start. Run it again to go on.
#
#   tools/run_study.sh            # every part still open, then claim 4
#   tools/run_study.sh --dry-run  # print the commands only
#
# On a fresh machine the recorded points come back from git first (tools/sweep_results.sh restore). Claim 4's 8×8
# tokenizers are the ablation's baseline tokenizers, copied in before its sweep (declared in docs/results.md);
# without them (another machine, or runs/ablation restored from git, which keeps a tokenizer's weights only while its
# sweep still needs them) claim 4 trains its own with the same settings.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
run() { echo "+ $*"; [[ ${dry:-0} == 1 ]] || "$@"; }
dry=0; [[ ${1:-} == --dry-run ]] && dry=1

ablation=configs/sweep-ablation.json
parts=(
  baseline,crt,lambda-0.25,lambda-0.5,lambda-1,lambda-2   # parts 1 and 2: the default arm and the λ ladder
  entropy-0.1,dead-code-100                               # codebook health
  ramp-250,ramp-4000                                      # the ramp
  raw-latents,detached,cross-entropy,depth-1,depth-4      # the rest
)

for pair in "docs/ablation runs/ablation" "docs/claim4 runs/claim4"; do
  set -- $pair
  if [[ -d $1 && ! -d $2 ]]; then run tools/sweep_results.sh restore "$1" "$2"; fi
done

for only in "${parts[@]}"; do
  run ./crt sweep "$ablation" --out runs/ablation --only "$only" --quiet
  run tools/sweep_results.sh save runs/ablation docs/ablation
done

for s in 0 1 2; do
  from=runs/ablation/seed-t$s-g$s/tokenizers/baseline to=runs/claim4/seed-t$s-g$s/tokenizers
  if [[ -d $from && ! -e $to/baseline ]]; then
    run mkdir -p "$to"
    run cp -r "$from" "$to/"
    run rm -f "$to/baseline/.lock" "$to/baseline/.lock.owner"
  fi
done
run ./crt sweep configs/sweep-claim4.json --out runs/claim4 --quiet
run tools/sweep_results.sh save runs/claim4 docs/claim4
# Claim 4's extension (declared in docs/results.md, 2026-12-07): the 4×4 GPT runs continued to 4000 steps. The declared
# plan's report is kept as docs/claim4/replicates-declared.md; replicates.md becomes the extended plan's.
run ./crt sweep configs/sweep-claim4-extended.json --out runs/claim4 --only baseline-4x4 --quiet
run tools/sweep_results.sh save runs/claim4 docs/claim4
