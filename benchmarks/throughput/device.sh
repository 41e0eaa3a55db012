#!/usr/bin/env bash
# How fast does one training step run against the 2022 seed's loop and the model alone (issues 5.1, 14)?
# One GPU. Usage (device): source .device/prelude.sh && bash benchmarks/throughput/device.sh
source benchmarks/device_setup.sh
demo_corpus demo3k 3000
python benchmarks/throughput/run.py --data /tmp/demo3k --batch-size 128 "${vocab_args[@]}" \
  --json "$stem.json" 2>&1 | grep -v "^  skipped" | tee "$stem.txt"
