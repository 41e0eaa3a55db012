#!/usr/bin/env bash
# How does one large trial scale over GPUs with DDP, and does a search of multi-GPU trials run (issues 5.3, 8)?
# 4 GPUs of one host. Usage (device): source .device/prelude.sh && bash benchmarks/ddp_scaling/device.sh
source benchmarks/device_setup.sh
demo_corpus demo10k 10000
python benchmarks/ddp_scaling/run.py --data /tmp/demo10k --gpu --workers 1 2 4 --set epochs=3 --set batch_size=64 \
  --json "$stem.json" 2>&1 | grep -E "^\|" | tee "$stem.txt"
# A 2-trial search of 2-GPU DDP trials (NCCL), its per-trial start-up, and the MLflow runs it left.
python -m tune_asr.search --data /tmp/demo10k --space search_spaces/gpu_demo.yaml --trials 2 --max-epochs 2 \
  --gpus-per-trial 2 --name ddp2 --storage /tmp/searches --seed 0 > "${stem}_search.log" 2>&1
echo "2-trial search of 2-GPU DDP trials: rc $?" | tee -a "${stem}_search.txt"
python benchmarks/reused_trials/run.py /tmp/searches/ddp2 | tee -a "${stem}_search.txt"
python - <<'PY' | tee -a "${stem}_search.txt"
import mlflow
mlflow.set_tracking_uri("sqlite:////tmp/searches/mlflow.db")
runs = mlflow.search_runs(experiment_names=["ddp2"])
print(f"MLflow runs in experiment ddp2: {len(runs)} ({', '.join(sorted(runs['status']))})")
PY
