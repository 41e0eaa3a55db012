#!/usr/bin/env bash
# One device call (single GPU): training throughput side by side, and a search of 8 quarter-GPU
# trials (issues 3, 5). Results under $OUT.
# Usage: source .device/prelude.sh && bash benchmarks/device_call_a.sh
source benchmarks/device_setup.sh
demo_corpus demo3k 3000
python benchmarks/throughput.py --data /tmp/demo3k --batch-size 128 --vocab .device/kospeech_labels.csv \
  --json "$out/throughput.json" 2>&1 | grep -v "^  skipped" | tee "$out/throughput.txt"
start=$SECONDS
python -m tune_asr.search --data /tmp/demo3k --space search_spaces/gpu_demo.yaml --trials 8 --gpus-per-trial 0.25 \
  --name packed --storage /tmp/searches --seed 0 > "$out/search_packed.log" 2>&1
echo "packed search (8 trials, 0.25 GPU each): $((SECONDS - start)) s wall" | tee -a "$out/gpu.txt"
tail -40 "$out/search_packed.log"
python -m tune_asr.results /tmp/searches/packed --no-mlflow > "$out/results_packed.txt" 2>&1; tail -25 "$out/results_packed.txt"
