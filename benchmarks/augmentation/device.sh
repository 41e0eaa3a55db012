#!/usr/bin/env bash
# What does waveform augmentation cost in training throughput, and does it carry the searched model to
# voices it never heard (issue 17)? One GPU: the throughput rows side by side, then both searches of
# generalisation.sh sharing the GPU for BUDGET_S seconds (default 150).
# Usage (device): source .device/prelude.sh && bash benchmarks/augmentation/device.sh
source benchmarks/device_setup.sh
demo_corpus demo3k 3000
python benchmarks/augmentation/run.py --data /tmp/demo3k --batch-size 128 "${vocab_args[@]}" \
  --json "$stem.json" 2>&1 | grep -v "^  skipped" | tee "$stem.txt"
OUT=/tmp/voices UTTERANCES=1200 BUDGET_S=${BUDGET_S:-150} GPUS_PER_TRIAL=0.25 AUGMENTED_GPU=0 \
  bash benchmarks/augmentation/generalisation.sh 2>&1 | tee "${stem}_voices.txt"
cp /tmp/voices/voices_*.log "$out/" 2>/dev/null; true
