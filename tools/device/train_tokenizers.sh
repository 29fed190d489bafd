#!/usr/bin/env bash
# Trains issue-3 tokenizers (baseline and CRT vq-tiny arms) side by side on a many-core machine,
# one process per arm with $THREADS threads each. A 100-step probe of the arms measures the loaded
# step rate (from the trainer's own images/s, so start-up is not counted); the baseline then gets as
# many steps as fit in TRAIN_SECONDS, and each CRT arm the same FLOPs (match_baseline_steps).
# Usage: ARMS="baseline:0 crt-l4:4" THREADS=8 tools/device/train_tokenizers.sh BIN OUTDIR [TRAIN_SECONDS]
set -euo pipefail
bin=$1; out=$2; secs=${3:-460}
read -r -a arms <<< "${ARMS:-baseline:0 crt-l4:4 crt-l1:1 crt-l025:0.25}"
export CRT_THREADS=${THREADS:-4}
mkdir -p "$out"
common=(--config configs/tokenizer-vq-tiny-crt.json --set crt.ramp_steps=1000 --quiet)

for a in "${arms[@]}"; do
  "$bin" tokenizer train "${common[@]}" --set crt.lambda_max=${a##*:} --set steps=100 --set val_every=1000 \
    --set checkpoint_every=1000 --set image_every=1000 --out "$out/probe-${a%%:*}" >/dev/null &
done
wait
# The slowest arm's steady rate (images/s of its last logged step ÷ batch 32); CRT arms cost ~4% more per step.
read rate steps < <(for f in "$out"/probe-*/metrics.jsonl; do grep '"kind":"train"' "$f" | tail -1; done | sed 's/.*"images_per_s":\([0-9.]*\).*/\1/' |
  awk -v s=$secs 'BEGIN { m = 1e9 } { if ($1 < m) m = $1 } END { r = m / 32; n = int(r * s / 1.04 / 250) * 250; if (n < 250) n = 250; print r, n }')
echo "probe: ${#arms[@]} arms in parallel, $CRT_THREADS threads each -> $rate steps/s per arm; baseline steps $steps"
rm -rf "$out"/probe-*

val=$(( steps / 4 ))
for a in "${arms[@]}"; do
  name=${a%%:*}; match=()
  [ "$name" != baseline ] && match=(--set match_baseline_steps=$steps)
  "$bin" tokenizer train "${common[@]}" --set crt.lambda_max=${a##*:} --set steps=$steps "${match[@]}" \
    --set val_every=$val --set val_images=2000 --set checkpoint_every=$val --set image_every=$val --out "$out/$name" > "$out/$name.log" 2>&1 &
done
wait
echo "all done: $(date)"
