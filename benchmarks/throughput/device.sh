#!/usr/bin/env bash
# How fast does one training step run, each speed lever on and off, against the model alone and the real seed
# loop's figure for the card (issues 5.1, 14, 22)?
# One GPU. Usage (device): source .device/prelude.sh && bash benchmarks/throughput/device.sh
source benchmarks/device_setup.sh
demo_corpus demo3k 3000
python benchmarks/throughput/run.py --data /tmp/demo3k --batch-size 128 "${vocab_args[@]}" \
  --json "$stem.json" --profile "${stem}_profile.txt" 2>&1 | grep -v "^  skipped" | tee "$stem.txt"
