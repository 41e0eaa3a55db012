#!/usr/bin/env bash
# Second device call on 4 GPUs: search efficiency, round 2 (seed 2 of both methods, GPUs 0 and 1),
# while GPUs 2 and 3 run the same packed search (8 quarter-GPU trials of 2 epochs, no early stopping)
# side by side with Ray Train's controller polling every 2 s (its default) and every 0.5 s: per-trial
# start-up split into Ray's part (spawn) and the data's, and GPU utilisation sampled every 0.5 s.
# Usage: source .device/prelude.sh && bash benchmarks/device_call_d.sh
source benchmarks/device_setup.sh
demo_corpus demo1200 1200
demo_corpus demo3k 3000
python benchmarks/search_efficiency.py run --data /tmp/demo1200 --space search_spaces/gpu_efficiency.yaml \
  --budget-s 300 --gpus 0 1 --searches tpe:2 random:2 --json "$out/efficiency_b.json" > "$out/efficiency_b.txt" 2>&1 &
nvidia-smi --query-gpu=index,timestamp,utilization.gpu --format=csv,noheader -i 2,3 -lms 500 > "$out/gpu_utilisation.csv" &
sampler=$!
searches=()
for gpu_poll in 2:2.0 3:0.5; do
  CUDA_VISIBLE_DEVICES=${gpu_poll%%:*} RAY_TRAIN_HEALTH_CHECK_INTERVAL_S=${gpu_poll##*:} python -m tune_asr.search \
    --data /tmp/demo3k --space search_spaces/gpu_demo.yaml --trials 8 --max-epochs 2 --gpus-per-trial 0.25 \
    --scheduler fifo --name poll_${gpu_poll##*:} --storage /tmp/startup --seed 0 > /tmp/startup_${gpu_poll##*:}.log 2>&1 &
  searches+=($!)
done
wait "${searches[@]}"
kill $sampler
python benchmarks/trial_overhead.py /tmp/startup/poll_2.0 /tmp/startup/poll_0.5 --utilisation "$out/gpu_utilisation.csv" \
  --gpus 2 3 | tee "$out/startup.txt"
wait
cat "$out/efficiency_b.txt"
