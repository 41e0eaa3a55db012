#!/usr/bin/env bash
# Where does a trial's start-up go (issue 5.4)? Ray Train's process chain for a training function that
# does nothing, one at a time and 4 at once; then (2 GPUs or more) the same packed search side by side
# with Ray Train's controller polling every 2 s (its default) and every 0.5 s, GPU utilisation sampled.
# Usage (device): source .device/prelude.sh && bash benchmarks/trial_startup/device.sh
source benchmarks/device_setup.sh
python benchmarks/trial_startup/run.py --gpu --runs 3 --concurrent 4 2>&1 | grep -E "^\||^One|at once" | tee "$stem.txt"
[ "$gpu_count" -ge 2 ] || exit 0
demo_corpus demo3k 3000
nvidia-smi --query-gpu=index,timestamp,utilization.gpu --format=csv,noheader -i 0,1 -lms 500 > "${stem}_poll_utilisation.csv" &
sampler=$!
searches=()
for gpu_poll in 0:2.0 1:0.5; do
  CUDA_VISIBLE_DEVICES=${gpu_poll%%:*} RAY_TRAIN_HEALTH_CHECK_INTERVAL_S=${gpu_poll##*:} python -m tune_asr.search \
    --data /tmp/demo3k --space search_spaces/gpu_demo.yaml --trials 8 --max-epochs 2 --gpus-per-trial 0.25 \
    --scheduler fifo --name poll_${gpu_poll##*:} --storage /tmp/startup --seed 0 > /tmp/startup_${gpu_poll##*:}.log 2>&1 &
  searches+=($!)
done
wait "${searches[@]}"
kill $sampler
python benchmarks/trial_startup/trial_overhead.py /tmp/startup/poll_2.0 /tmp/startup/poll_0.5 \
  --utilisation "${stem}_poll_utilisation.csv" --gpus 0 1 | tee "${stem}_poll.txt"
