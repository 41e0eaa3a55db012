#!/usr/bin/env bash
# One device call on nvidia-h200-x2 (issue 12): TPE + ASHA against random search without early stopping,
# 3 seeds each, 130 s of one GPU per search (its trials at 0.25 GPU in reused processes), two at a time.
# Usage: source .device/prelude.sh && bash benchmarks/reused_trials/efficiency.sh
source benchmarks/device_setup.sh
demo_corpus demo1200 1200 > "$out/setup.log" 2>&1
python benchmarks/search_efficiency.py run --data /tmp/demo1200 --space search_spaces/gpu_efficiency.yaml --budget-s 130 \
  --gpus 0 1 --searches tpe:0 random:0 tpe:1 random:1 tpe:2 random:2 --json "$out/curves.json" > "$out/run.log" 2>&1
python benchmarks/search_efficiency.py report "$out/curves.json" --plot "$out/efficiency.png" | tee "$out/report.txt"
