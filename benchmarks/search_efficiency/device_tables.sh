#!/usr/bin/env bash
# Issue 21, one device call (about 8 minutes): record two learning-curve tables of random configurations run
# to the end with the project's own command, then replay the default against random search on them.
# (The levers' replay is CPU work: it runs on any machine, see BENCHMARKS.md.)
#   1. GPU table: search_spaces/gpu_efficiency.yaml on 1,200 demo utterances (data seed 1), ten 0.1-GPU
#      trials sharing the card (as the shared table was recorded), TABLE_S seconds.
#   2. CPU table: the demo space (search_spaces/default.yaml, 240 utterances) as CPU trials on the host's
#      cores, TABLE_S seconds.
#   3. The default against random on both new tables, 10 and 30 simulated minutes, 8 slots, 50 seeds.
# Usage (device): source .device/prelude.sh && bash benchmarks/search_efficiency/device_tables.sh
# Copy $OUT's files to benchmarks/search_efficiency/tables/ and results/.
source benchmarks/device_setup.sh
TABLE_S=${TABLE_S:-160}
replay=benchmarks/search_efficiency/replay.py
python -m tune_asr.data.demo /tmp/demo1200s1 --utterances 1200 --seed 1 2>&1 | tail -1

record() {  # NAME, then the search's own flags: a random search, every trial to the end, TABLE_S seconds
  local name=$1; shift
  python -m tune_asr.search --searcher random --scheduler fifo --trials 1000 --time-budget-s "$TABLE_S" \
    --storage /tmp/tables --name "$name" "$@" > "/tmp/tables_$name.log" 2>&1
  tail -3 "/tmp/tables_$name.log"
  python -m tune_asr.results "/tmp/tables/$name" --no-mlflow > /dev/null 2>&1
  cp "/tmp/tables/$name/learning_curves.csv" "$out/$name.csv"
}
record "gpu_efficiency_${stem##*/}_seed12" --data /tmp/demo1200s1 --space search_spaces/gpu_efficiency.yaml \
  --gpus-per-trial 0.1 --seed 12
record "demo_cpu16_${stem##*/}_seed21" --seed 21
python $replay --curves "$out"/gpu_efficiency_*.csv "$out"/demo_cpu16_*.csv --seeds 50 --slots 8 --budget-min 10 30 \
  --workers 14 --json "$out/default_new_tables.json" 2>&1 | tee "$out/default_new_tables.txt"
