#!/usr/bin/env bash
# What does waveform augmentation cost in training throughput (issue 17)? One GPU, both rows side by side.
# Usage (device): source .device/prelude.sh && bash benchmarks/augmentation/device.sh
source benchmarks/device_setup.sh
demo_corpus demo3k 3000
python benchmarks/augmentation/run.py --data /tmp/demo3k --batch-size 128 "${vocab_args[@]}" \
  --json "$stem.json" 2>&1 | grep -v "^  skipped" | tee "$stem.txt"
