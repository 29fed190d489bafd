#!/usr/bin/env bash
# Keeps a long sweep's small results in git, so a study that spans sessions (and machines) survives.
#
#   tools/sweep_results.sh save    RUN_DIR DOC_DIR   # RUN_DIR (runs/…, not in git) → DOC_DIR (docs/…, committed)
#   tools/sweep_results.sh restore DOC_DIR RUN_DIR   # before continuing on a fresh machine: the recorded points back
#
# save copies plan.json and replicates.md, and per replicate folder (seed-tT-gG/, or the sweep folder itself) its
# points.jsonl, results.md and every tokenizer's and GPT's metrics.jsonl (the training curves), renamed
# tokenizer-NAME.metrics.jsonl (only for a tokenizer the sweep has recorded: not one still training) and
# gpt-NAME-PRESET.metrics.jsonl. Weights, tokens and samples stay behind.
# restore puts each points.jsonl back where `crt sweep` looks for it; a tokenizer whose points are all recorded is
# then skipped, not retrained. It refuses to overwrite a points.jsonl that holds records the saved one lacks.
set -euo pipefail

usage() { sed -n '4,5p' "$0" | sed 's/^# *//' >&2; exit 2; }
[[ $# -eq 3 ]] || usage
mode=$1 from=${2%/} to=${3%/}
[[ -d $from ]] || { echo "sweep_results: $from: no such folder" >&2; exit 1; }

replicates() { # the replicate folders of a sweep folder (itself when it has no seed-* folders)
  local dir=$1 found=0
  for d in "$dir"/seed-t*-g*/; do [[ -d $d ]] && { echo "${d%/}"; found=1; }; done
  [[ $found -eq 1 ]] || echo "$dir"
}

case $mode in
save)
  [[ -f $from/plan.json ]] || { echo "sweep_results: $from: no plan.json (not a sweep folder)" >&2; exit 1; }
  mkdir -p "$to"
  cp "$from/plan.json" "$to/"
  [[ -f $from/replicates.md ]] && cp "$from/replicates.md" "$to/"
  n=0
  while read -r rep; do
    [[ -f $rep/points.jsonl ]] || continue
    out=$to; [[ $rep != "$from" ]] && out=$to/$(basename "$rep")
    mkdir -p "$out"
    cp "$rep/points.jsonl" "$out/"
    [[ -f $rep/results.md ]] && cp "$rep/results.md" "$out/"
    for m in "$rep"/tokenizers/*/metrics.jsonl; do
      [[ -f $m ]] || continue
      tok=$(basename "$(dirname "$m")")
      # Only a finished tokenizer's curve: recorded by the sweep, and as long as its record says. One still training
      # (first time, or again after a record the sweep measures again) would put a partial curve in git.
      # (|| true: no match is an answer here, not an error that set -e and pipefail would exit on, silently.)
      record=$(grep "\"kind\":\"tokenizer\",\"name\":\"$tok\"" "$rep/points.jsonl" | tail -1 || true)
      want=$(grep -o '"steps":[0-9]*' <<< "$record" | head -1 | cut -d: -f2 || true)
      have=$(grep -o '"step":[0-9]*' "$m" | tail -1 | cut -d: -f2 || true)
      if [[ -z $want || -z $have || $have -lt $want ]]; then
        echo "sweep_results: $rep: tokenizer $tok is still training (step ${have:-0} of ${want:-?}); its curve is left as saved" >&2
        continue
      fi
      cp "$m" "$out/tokenizer-$tok.metrics.jsonl"
    done
    for m in "$rep"/gpt/*/*/metrics.jsonl; do
      [[ -f $m ]] || continue
      preset=$(basename "$(dirname "$m")"); name=$(basename "$(dirname "$(dirname "$m")")")
      cp "$m" "$out/gpt-$name-$preset.metrics.jsonl"
    done
    n=$((n + 1))
  done < <(replicates "$from")
  echo "sweep_results: saved $n replicate folder(s) of $from to $to ($(du -sh "$to" | cut -f1))"
  ;;
restore)
  mkdir -p "$to"
  n=0
  while read -r rep; do
    [[ -f $rep/points.jsonl ]] || continue
    dest=$to; [[ $rep != "$from" ]] && dest=$to/$(basename "$rep")
    mkdir -p "$dest"
    if [[ -f $dest/points.jsonl ]] && ! cmp -s "$dest/points.jsonl" "$rep/points.jsonl"; then
      if [[ $(wc -l < "$dest/points.jsonl") -gt $(wc -l < "$rep/points.jsonl") ]]; then
        echo "sweep_results: $dest/points.jsonl holds more records than $rep/points.jsonl; left as it is" >&2
        continue
      fi
    fi
    cp "$rep/points.jsonl" "$dest/points.jsonl"
    n=$((n + 1))
  done < <(replicates "$from")
  [[ -f $from/plan.json && ! -f $to/plan.json ]] && cp "$from/plan.json" "$to/"
  echo "sweep_results: restored the points of $n replicate folder(s) into $to"
  ;;
*) usage ;;
esac
