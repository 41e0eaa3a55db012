#!/usr/bin/env bash
# Issue 2's GPU check: 10,000 demo utterances, a mid-sized DeepSpeech2, validation CER per epoch.
# Usage (device tool): source .device/prelude.sh && bash benchmarks/demo_cer_gpu.sh [OUTDIR]
set -euo pipefail
out=${1:-${OUT:-/tmp/demo_cer_gpu}}
data=/tmp/demo10k
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
start=$SECONDS
[ -d "$data" ] || python -m tune_asr.data.demo "$data" --utterances 10000 --seed 0 2>&1 | tail -1
echo "demo corpus: $((SECONDS - start)) s" | tee -a "$out/gpu.txt"
start=$SECONDS
python -m tune_asr.train --data "$data" --out /tmp/demo_cer_run --no-progress \
  --set rnn_hidden=512 --set rnn_layers=3 --set batch_size=32 --set lr=1e-3 --set schedule=warmup_cosine \
  --set warmup_fraction=0.05 --set epochs=${EPOCHS:-20} --set dropout=0.1 2>&1 | grep -v "^  skipped" | tee "$out/train.log"
echo "training: $((SECONDS - start)) s" | tee -a "$out/gpu.txt"
cp /tmp/demo_cer_run/metrics.json "$out/metrics.json"
