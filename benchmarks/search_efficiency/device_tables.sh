#!/usr/bin/env bash
# Issue 21 (and issue 23's GPU figure) in one device call on one GPU, at most 9 minutes:
#   1. time to first result of a GPU search of 3,000 utterances, the card idle      -> first_result.txt
#   2. the real pair: TPE with the default schedule against random search without early stopping, both
#      searches at once on the one card (8 trials of 0.125 GPU each), PAIR_S seconds each, 1,200 demo
#      utterances of data seed 1, gpu_efficiency.yaml                              -> pair.json, pair.txt
#      The random search is run with the project's own command (--searcher random --scheduler fifo), so its
#      learning curves are a table of our own: <gpu>_<date>_pair_random_seed1.csv, the replay's table
#      for the pair's own setting (8 slots, PAIR_S seconds).
#   3. issue 23: the inference-cost measurement against the epoch it follows         -> inference_cost.json
# The replays run on any CPU afterwards (BENCHMARKS.md, "Search strategy", says which). Copy the CSV to
# benchmarks/search_efficiency/tables/ and the rest to results/.
# Usage (device): source .device/prelude.sh && bash benchmarks/search_efficiency/device_tables.sh
#   PAIR_S=0: parts 1 and 3 only (about 3 minutes), to measure the first result and the cost again after a change.
source benchmarks/device_setup.sh
PAIR_S=${PAIR_S:-300}
summary="$out/summary.txt"
log() { echo "[$(date -u +%T) +${SECONDS}s] $*" | tee -a "$summary"; }
gpu_space=search_spaces/gpu_efficiency.yaml
[ "$PAIR_S" -gt 0 ] && python -m tune_asr.data.demo /tmp/demo1200s1 --utterances 1200 --seed 1 2>&1 | tail -1 &
demo_corpus demo3k 3000
wait
log "corpora ready"
timeout 150 python benchmarks/search_efficiency/first_result.py -- --data /tmp/demo3k --space $gpu_space \
  --trials 10 --max-epochs 1 --gpus-per-trial 0.1 --storage /tmp/first_result --name gpu3k 2>&1 \
  | grep -v "^  skipped" | tee "$out/first_result.txt" | tail -2
log "first result done"
if [ "$PAIR_S" -gt 0 ]; then  # PAIR_S=0: the first result and the inference cost only
  python benchmarks/search_efficiency/run.py run --data /tmp/demo1200s1 --space $gpu_space --gpus-per-trial 0.125 \
    --budget-s "$PAIR_S" --gpus 0 0 --searches tpe:1 random:1 --storage /tmp/pair --json "$out/pair.json" | tee -a "$summary"
  python -m tune_asr.results /tmp/pair/eff_random_1 --no-mlflow > /dev/null 2>&1
  cp /tmp/pair/eff_random_1/learning_curves.csv "$out/${stem##*/}_pair_random_seed1.csv"
  python benchmarks/search_efficiency/run.py report "$out/pair.json" | tee "$out/pair.txt"
  log "pair done"
fi
timeout 70 python benchmarks/inference_cost/run.py --data /tmp/demo3k "${vocab_args[@]}" --epochs 2 \
  --set batch_size=128 --json "$out/inference_cost.json" 2>&1 | tail -4
log "inference cost done"
