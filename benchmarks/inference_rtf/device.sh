#!/usr/bin/env bash
# How many times faster than real time does an exported package infer, as nsml submit runs it (issue 4)?
# One GPU. Usage (device): source .device/prelude.sh && bash benchmarks/inference_rtf/device.sh
source benchmarks/device_setup.sh
demo_corpus demo3k 3000
python benchmarks/inference_rtf/run.py --data /tmp/demo3k --size kospeech "${vocab_args[@]}" --repeat 2 2>&1 \
  | tail -6 | tee "$stem.txt"
