#!/usr/bin/env bash
# Issue 5 part 1 on the device: 3,000 demo utterances, kospeech-default DeepSpeech2, batch 128.
# Usage: source .device/prelude.sh && bash benchmarks/throughput_gpu.sh
set -euo pipefail
out=${OUT:-/tmp/throughput}
data=/tmp/demo3k
[ -d "$data" ] || python -m tune_asr.data.demo "$data" --utterances 3000 --seed 0 2>&1 | tail -1
nvidia-smi --query-gpu=name --format=csv,noheader
python benchmarks/throughput.py --data "$data" --batch-size 128 --vocab .device/kospeech_labels.csv --json "$out/throughput.json" "$@" 2>&1 | grep -v "^  skipped" | tee "$out/throughput.txt"
