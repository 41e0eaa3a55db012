#!/usr/bin/env bash
# One device call on one GPU (issue 5.4): where a trial's start-up goes (Ray Train's process chain,
# one at a time and 4 at once), then packing density as the cure for idle start-up waves: the same
# packed search (gpu_demo space, 2 epochs, no early stopping) with 4 trials at 0.25 GPU and with 8
# at 0.125, GPU utilisation sampled every 0.5 s. Usage: source .device/prelude.sh && bash benchmarks/device_call_e.sh
source benchmarks/device_setup.sh
demo_corpus demo3k 3000
python benchmarks/train_startup.py --gpu --runs 3 --concurrent 4 2>&1 | grep -E "^\||^One|at once" | tee "$out/train_startup.txt"
nvidia-smi --query-gpu=index,timestamp,utilization.gpu --format=csv,noheader -lms 500 > "$out/gpu_utilisation.csv" &
sampler=$!
for share in 0.25:8 0.125:16; do
  python -m tune_asr.search --data /tmp/demo3k --space search_spaces/gpu_demo.yaml --trials ${share##*:} --max-epochs 2 \
    --gpus-per-trial ${share%%:*} --scheduler fifo --name density_${share%%:*} --storage /tmp/density --seed 0 \
    > "/tmp/density_${share%%:*}.log" 2>&1
  grep "Total run time" "/tmp/density_${share%%:*}.log" | tee -a "$out/gpu.txt"
done
kill $sampler
python benchmarks/trial_overhead.py /tmp/density/density_0.25 /tmp/density/density_0.125 \
  --utilisation "$out/gpu_utilisation.csv" --gpus 0 0 --plot "$out/gpu_utilisation.png" | tee "$out/density.txt"
