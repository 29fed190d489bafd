#!/usr/bin/env bash
# The GPU session's one prepared run (issue "crt on the GPU", part 6), on the device machine: an NVIDIA GPU, CUDA 13,
# PyTorch with CUDA, 16 cores, no .NET SDK. Build the binary here first (tools/device/publish.sh), then:
#   run(command="tools/device/gpu_check.sh", carry=["tools/device/publish"], timeout_s=560)
# Budget: under 8 minutes. Writes everything under $OUT (the device tool brings it back):
#   (a) doctor.txt    crt doctor: the GPU, driver and cuBLAS, and all 69 ops forward+backward on cuda:0 vs the CPU
#   (b) curves/       vq-tiny + CRT and gpt-t4, 200 steps each, on the CPU and on cuda:0 from one seed (dropouts off:
#                     the GPU's dropout is Philox, another random stream than the CPU's), compared by compare_curves.py
#   (c,d) bench.jsonl W1–W5 with crt on cuda:0 and PyTorch on cuda, fp32 / tf32 / bf16 (PyTorch: allow_tf32, autocast
#                     bf16), batches ×8
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT=${OUT:-out}; mkdir -p "$OUT/curves"
bin=tools/device/publish/Crt.Bench
crt() { "$bin" crt "$@"; }
stage() { echo "== $(date +%T) $*" | tee -a "$OUT/log.txt"; }
export CRT_THREADS=16

stage "(a) doctor"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
timeout 120 "$bin" crt doctor --no-speed --device cuda:0 > "$OUT/doctor.txt" 2>&1; echo "doctor exit $?" >> "$OUT/doctor.txt"

stage "(b) curves: tokenizer"
tok=(--preset vq-tiny --set crt.ramp_steps=50 --steps 200 --seed 0 --set val_every=100 --set val_images=500
     --set checkpoint_every=200 --set image_every=200 --quiet)
timeout 150 "$bin" crt tokenizer train "${tok[@]}" --out "$OUT/curves/tok-cpu" > "$OUT/curves/tok-cpu.log" 2>&1 &
timeout 150 "$bin" crt tokenizer train "${tok[@]}" --device cuda:0 --out "$OUT/curves/tok-cuda" > "$OUT/curves/tok-cuda.log" 2>&1
wait
stage "(b) curves: gpt-t4"
timeout 60 "$bin" crt tokenize --tokenizer "$OUT/curves/tok-cpu" --split train --variants original --out "$OUT/curves/train.tokens" --quiet > "$OUT/curves/tokenize.log" 2>&1
gpt=(--preset gpt-t4 --tokens "$OUT/curves/train.tokens" --steps 200 --seed 0 --set batch_size=64 --set model.token_dropout=0
     --set model.resid_dropout=0 --set model.ffn_dropout=0 --set checkpoint_every=200 --quiet)
timeout 150 "$bin" crt gpt train "${gpt[@]}" --out "$OUT/curves/gpt-cpu" > "$OUT/curves/gpt-cpu.log" 2>&1 &
timeout 150 "$bin" crt gpt train "${gpt[@]}" --device cuda:0 --out "$OUT/curves/gpt-cuda" > "$OUT/curves/gpt-cuda.log" 2>&1
wait
python3 tools/device/compare_curves.py "$OUT/curves" > "$OUT/curves/compare.txt" 2>&1

stage "(c, d) W1-W5 on the GPU, crt and PyTorch"
for w in vqtiny-crt-train-step-b32 gpt-t4-train-step-b32 sample-64-cfg2-kvcache vqf16-encode-quantize-decode-256 gpt-b-fwdbwd-b2; do
  for p in fp32 tf32 bf16; do
    timeout 60 "$bin" "$w" --device cuda:0 --batch-scale 8 --precision "$p" --seconds 1 | sed "s/^{/{\"side\":\"crt\",\"precision\":\"$p\",/" >> "$OUT/bench.jsonl" 2>> "$OUT/bench.err"
    tf=0; [ "$p" = tf32 ] && tf=1
    ac=; [ "$p" = bf16 ] && ac=bf16
    BENCH_DEVICE=cuda BENCH_BATCH_SCALE=8 BENCH_TF32=$tf BENCH_AUTOCAST=$ac timeout 60 python3 bench/torch_bench.py "$w" --seconds 1 \
      | sed "s/^{/{\"side\":\"pytorch\",\"precision\":\"$p\",/" >> "$OUT/bench.jsonl" 2>> "$OUT/bench.err"
  done
done
stage "done"
