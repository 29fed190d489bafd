#!/usr/bin/env bash
# A part of a long sweep (the ablation study, claim 4) on the device machine's 16 CPU cores, when a session has one.
# Build here first (tools/device/publish.sh), then:
#   run(command="tools/device/sweep_part.sh configs/sweep-ablation.json lambda-0.5,lambda-2 520",
#       carry=["tools/device/publish"], timeout_s=560)
# and afterwards, here: copy the returned results/ folder over docs/ablation (tools/sweep_results.sh's layout) and commit.
#
# Arguments: PLAN, the tokenizers to run now (--only), and the seconds to give the sweep (leave the device tool's
# limit a minute for saving). The sweep runs on the CPU with 16 threads; what it records before the time is up is
# saved (a tokenizer half-trained when time runs out is lost with the machine). The points recorded by earlier
# parts travel in the working tree (docs/NAME for configs/sweep-NAME.json) and are restored first, so nothing
# recorded is measured again.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[[ $# -eq 3 ]] || { sed -n '2,12p' "$0" >&2; exit 2; }
plan=$1 only=$2 seconds=$3
OUT=${OUT:-out}; mkdir -p "$OUT"
name=$(basename "$plan" .json); saved=docs/${name#sweep-}
sweep=runs/$name
export CRT_THREADS=16
[[ -d $saved ]] && tools/sweep_results.sh restore "$saved" "$sweep" | tee "$OUT/log.txt"
echo "== $(date +%T) crt sweep $plan --only $only ($seconds s)" | tee -a "$OUT/log.txt"
timeout --signal=INT "$seconds" tools/device/publish/Crt.Bench crt sweep "$plan" --out "$sweep" --only "$only" --quiet >> "$OUT/log.txt" 2>&1
echo "== $(date +%T) sweep exit $?" | tee -a "$OUT/log.txt"
tools/sweep_results.sh save "$sweep" "$OUT/results" | tee -a "$OUT/log.txt"
