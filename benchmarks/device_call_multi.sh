#!/usr/bin/env bash
# Issue 8 on a machine of 4 or more GPUs: a 2-trial search of 2-GPU DDP trials (NCCL), its per-trial
# start-up, and the MLflow runs it left. (DDP scaling of one trial: benchmarks/device_call_c.sh.)
# Usage: source .device/prelude.sh && bash benchmarks/device_call_multi.sh
source benchmarks/device_setup.sh
demo_corpus demo10k 10000
python -m tune_asr.search --data /tmp/demo10k --space search_spaces/gpu_demo.yaml --trials 2 --max-epochs 2 \
  --gpus-per-trial 2 --name ddp2 --storage /tmp/searches --seed 0 > "$out/search_ddp2.log" 2>&1
echo "2-trial search of 2-GPU DDP trials: rc $?" | tee -a "$out/gpu.txt"
grep -E "Total run time|Leaderboard of|finished|ASHA|failed" "$out/search_ddp2.log" | head
python benchmarks/trial_overhead.py /tmp/searches/ddp2 | tee -a "$out/gpu.txt"
python - <<'PY' | tee -a "$out/gpu.txt"
import mlflow
mlflow.set_tracking_uri("sqlite:////tmp/searches/mlflow.db")
runs = mlflow.search_runs(experiment_names=["ddp2"])
print(f"MLflow runs in experiment ddp2: {len(runs)} ({', '.join(sorted(runs['status']))})")
PY
