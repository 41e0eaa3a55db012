#!/usr/bin/env bash
# One device call (single GPU): inference real-time factor of an exported package (issue 4) and
# packing, 8 trials at 0.25 GPU each against the same 8 trials one at a time (issue 5.2).
# Both searches: same space, seed (Optuna's first 10 TPE proposals are seeded random, so the same
# 8 configurations), no early stopping (fifo), 2 epochs. Usage: source .device/prelude.sh && bash benchmarks/device_call_b.sh
source benchmarks/device_setup.sh
demo_corpus demo3k 3000
python benchmarks/inference_rtf.py --data /tmp/demo3k --size kospeech --vocab .device/kospeech_labels.csv --repeat 2 2>&1 | tail -6 | tee "$out/inference_rtf.txt"
for gpus in 0.25 1; do
  start=$SECONDS
  python -m tune_asr.search --data /tmp/demo3k --space search_spaces/gpu_demo.yaml --trials 8 --max-epochs 2 \
    --gpus-per-trial $gpus --scheduler fifo --name pack_$gpus --storage /tmp/searches --seed 0 > "$out/search_$gpus.log" 2>&1
  echo "search 8 trials x 2 epochs, $gpus GPU per trial: $((SECONDS - start)) s wall (incl. Ray start)" | tee -a "$out/gpu.txt"
  grep -E "Total run time|Leaderboard of" "$out/search_$gpus.log"
  python benchmarks/trial_overhead.py /tmp/searches/pack_$gpus | tee -a "$out/gpu.txt"
done
