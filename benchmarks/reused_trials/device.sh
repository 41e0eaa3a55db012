#!/usr/bin/env bash
# One device call on nvidia-h200-x2 (issue 12): the same packed search (gpu_demo space, 16 trials at
# 0.25 GPU, 2 epochs, fifo) with reused trial processes on GPU 0 and with one Ray Train run per trial
# on GPU 1, side by side, GPU utilisation sampled every 0.5 s; then 20 one-epoch trials one at a time
# in one reused process on 600 utterances (memory growth).
# Usage: source .device/prelude.sh && bash benchmarks/reused_trials/device.sh
source benchmarks/device_setup.sh
demo_corpus demo3k 3000
nvidia-smi --query-gpu=index,timestamp,utilization.gpu --format=csv,noheader -lms 500 > "$out/gpu_utilisation.csv" &
sampler=$!
common=(--data /tmp/demo3k --space search_spaces/gpu_demo.yaml --trials 16 --max-epochs 2 --gpus-per-trial 0.25
        --scheduler fifo --storage /tmp/reused --seed 0)
CUDA_VISIBLE_DEVICES=0 python -m tune_asr.search "${common[@]}" --name reused --trial-runner auto > /tmp/reused.log 2>&1 &
first=$!
CUDA_VISIBLE_DEVICES=1 python -m tune_asr.search "${common[@]}" --name train --trial-runner train > /tmp/train.log 2>&1
wait $first
kill $sampler
grep -h "Total run time" /tmp/reused.log /tmp/train.log | tee "$out/runs.txt"
python benchmarks/reused_trials/run.py /tmp/reused/reused /tmp/reused/train --utilisation "$out/gpu_utilisation.csv" \
  --gpus 0 1 --plot "$out/gpu_utilisation.png" | tee "$out/packing.txt"
demo_corpus demo600 600
CUDA_VISIBLE_DEVICES=0 python -m tune_asr.search --data /tmp/demo600 --space search_spaces/gpu_demo.yaml --trials 20 \
  --max-epochs 1 --gpus-per-trial 1 --scheduler fifo --storage /tmp/reused --seed 1 --name memory > /tmp/memory.log 2>&1
python benchmarks/reused_trials/run.py /tmp/reused/memory | tee "$out/memory.txt"
tail -5 /tmp/reused.log /tmp/train.log /tmp/memory.log > "$out/logs_tail.txt"
