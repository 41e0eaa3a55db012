#!/usr/bin/env bash
# How many trials per hour does packing several trials on one GPU buy (issues 3, 5.2, 5.4)? One GPU, one
# step per call (each fills most of a call's 600 s):
#   search   8 quarter-GPU trials, TPE + ASHA, and their leaderboard
#   versus   the same 8 configurations (seed 0, fifo, 2 epochs) at 0.25 GPU each and one at a time
#   density  4 trials at 0.25 GPU against 8 at 0.125, GPU utilisation sampled every 0.5 s
# Usage (device): source .device/prelude.sh && bash benchmarks/packing/device.sh search|versus|density
source benchmarks/device_setup.sh
demo_corpus demo3k 3000
search() {  # NAME GPUS_PER_TRIAL TRIALS [more tune_asr.search flags]
  python -m tune_asr.search --data /tmp/demo3k --space search_spaces/gpu_demo.yaml --trials "$3" --gpus-per-trial "$2" \
    --name "$1" --storage /tmp/searches --seed 0 "${@:4}" > "${stem}_$1.log" 2>&1
}
case ${1:-} in
  search)
    start=$SECONDS
    search packed 0.25 8
    echo "packed search (8 trials, 0.25 GPU each): $((SECONDS - start)) s wall" | tee -a "$stem.txt"
    python -m tune_asr.results /tmp/searches/packed --no-mlflow > "${stem}_search_leaderboard.txt" 2>&1
    tail -25 "${stem}_search_leaderboard.txt" ;;
  versus)
    for gpus in 0.25 1; do
      start=$SECONDS
      search "pack_$gpus" "$gpus" 8 --max-epochs 2 --scheduler fifo
      echo "search 8 trials x 2 epochs, $gpus GPU per trial: $((SECONDS - start)) s wall (incl. Ray start)" | tee -a "$stem.txt"
      grep -E "Total run time|Leaderboard of" "${stem}_pack_$gpus.log" | tee -a "$stem.txt"
      python benchmarks/trial_startup/trial_overhead.py "/tmp/searches/pack_$gpus" | tee -a "$stem.txt"
    done ;;
  density)
    nvidia-smi --query-gpu=index,timestamp,utilization.gpu --format=csv,noheader -lms 500 > "${stem}_density_utilisation.csv" &
    sampler=$!
    for share in 0.25:8 0.125:16; do
      search "density_${share%%:*}" "${share%%:*}" "${share##*:}" --max-epochs 2 --scheduler fifo
      grep "Total run time" "${stem}_density_${share%%:*}.log" | tee -a "${stem}_density.txt"
    done
    kill $sampler
    python benchmarks/trial_startup/trial_overhead.py /tmp/searches/density_0.25 /tmp/searches/density_0.125 \
      --utilisation "${stem}_density_utilisation.csv" --gpus 0 0 --plot "${stem}_density_utilisation.png" | tee -a "${stem}_density.txt" ;;
  *) echo "usage: bash benchmarks/packing/device.sh search|versus|density" >&2; exit 2 ;;
esac
