#!/usr/bin/env bash
# Keeps a long sweep's small results in git, so a study that spans sessions (and machines) survives.
#
#   tools/sweep_results.sh save    RUN_DIR DOC_DIR [--weights NAME,…]   # RUN_DIR (runs/…, not in git) → DOC_DIR (docs/…, committed)
#   tools/sweep_results.sh restore DOC_DIR RUN_DIR   # before continuing on a fresh machine: the recorded points back
#
# save copies plan.json and replicates.md, and per replicate folder (seed-tT-gG/, or the sweep folder itself) its
# points.jsonl, results.md and every tokenizer's and GPT's metrics.jsonl (the training curves), renamed
# tokenizer-NAME.metrics.jsonl (only for a tokenizer the sweep has recorded: not one still training) and
# gpt-NAME-PRESET.metrics.jsonl. Tokens, samples and GPT weights stay behind. A recorded tokenizer's weights (its
# config.json and the latest checkpoint's model, regularizer and state: ~5 MB for vq-tiny) are saved as
# tokenizer-NAME.weights/ while the sweep still needs them, i.e. while some planned point of it is not measured under
# the feature network of its record, and for every tokenizer --weights names (e.g. one another sweep starts from);
# the weights of one no longer needed are removed from DOC_DIR.
# restore puts each points.jsonl back where `crt sweep` looks for it, and each saved tokenizer's weights back as its
# run (unless that run exists): a tokenizer whose points are all recorded is then skipped, and one restored as its
# weights is used as it is, not retrained. It refuses to overwrite a points.jsonl that holds records the saved one lacks.
set -euo pipefail

usage() { sed -n '4,5p' "$0" | sed 's/^# *//' >&2; exit 2; }
[[ $# -eq 3 || ($# -eq 5 && $1 == save && $4 == --weights) ]] || usage
mode=$1 from=${2%/} to=${3%/} named=,${5:-},
[[ -d $from ]] || { echo "sweep_results: $from: no such folder" >&2; exit 1; }

replicates() { # the replicate folders of a sweep folder (itself when it has no seed-* folders)
  local dir=$1 found=0
  for d in "$dir"/seed-t*-g*/; do [[ -d $d ]] && { echo "${d%/}"; found=1; }; done
  [[ $found -eq 1 ]] || echo "$dir"
}

# Whether to save a tokenizer's weights: it is recorded as finished, and it is named (the last argument 1) or some
# (GPT size, steps) of the plan has no point of it measured under the feature network its record names (such points are
# measured again).
needs_weights() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
plan, points, name, named = sys.argv[1:5]
gpt = json.load(open(plan))["gpt"]
tok, have = None, set()
for line in open(points):
    try: r = json.loads(line)
    except ValueError: continue  # a torn last line
    if r.get("kind") == "tokenizer" and r.get("name") == name: tok = r
    elif r.get("kind") == "point" and r.get("tokenizer") == name: have.add((r["gpt"], r["steps"], r.get("feature_net_sha256")))
if tok is None: sys.exit(1)
if named == "1": sys.exit(0)
net = tok.get("feature_net_sha256")
sys.exit(0 if any((g, s, net) not in have for g in gpt["presets"] for s in gpt["steps"]) else 1)
PY
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
    for w in "$out"/tokenizer-*.weights; do # saved earlier; kept below while still needed
      if [[ -d $w ]]; then rm -rf "$w"; fi
    done
    for t in "$rep"/tokenizers/*/; do
      tok=$(basename "$t")
      wanted=0; [[ $named == *",$tok,"* ]] && wanted=1
      needs_weights "$from/plan.json" "$rep/points.jsonl" "$tok" $wanted || continue
      latest=$(cat "$t/checkpoints/latest" 2>/dev/null || true)
      if [[ -z $latest || ! -f $t/checkpoints/$latest/model.safetensors || ! -f $t/config.json ]]; then
        echo "sweep_results: $rep: tokenizer $tok has no checkpoint to save its weights from" >&2
        continue
      fi
      w=$out/tokenizer-$tok.weights
      mkdir -p "$w/checkpoints/$latest"
      cp "$t/config.json" "$w/"
      cp "$t/checkpoints/latest" "$w/checkpoints/"
      for f in model.safetensors regularizer.safetensors state.json; do
        if [[ -f $t/checkpoints/$latest/$f ]]; then cp "$t/checkpoints/$latest/$f" "$w/checkpoints/$latest/"; fi
      done
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
    for w in "$rep"/tokenizer-*.weights; do
      [[ -d $w ]] || continue
      tok=${w##*/tokenizer-}; tok=${tok%.weights}
      if [[ -e $dest/tokenizers/$tok ]]; then echo "sweep_results: $dest/tokenizers/$tok exists; its saved weights are not restored over it" >&2; continue; fi
      mkdir -p "$dest/tokenizers"
      cp -r "$w" "$dest/tokenizers/$tok"
    done
    n=$((n + 1))
  done < <(replicates "$from")
  [[ -f $from/plan.json && ! -f $to/plan.json ]] && cp "$from/plan.json" "$to/"
  echo "sweep_results: restored the points of $n replicate folder(s) into $to"
  ;;
*) usage ;;
esac
