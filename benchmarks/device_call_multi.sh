#!/usr/bin/env bash
# Issue 8 on a machine of several GPUs: DDP throughput of one large trial on 1, 2, 4 GPUs, and a
# 2-trial search of 2-GPU DDP trials. Usage: source .device/prelude.sh && bash benchmarks/device_call_multi.sh
set -uo pipefail
out=${OUT:-/tmp/call_multi}
data=/tmp/demo10k
gpus=$(nvidia-smi --query-gpu=name --format=csv,noheader | tee "$out/gpu.txt" | wc -l)
[ -d "$data" ] || python -m tune_asr.data.demo "$data" --utterances 10000 --seed 0 2>&1 | tail -1
workers="1 2"; [ "$gpus" -ge 4 ] && workers="1 2 4"
python benchmarks/ddp_scaling.py --data "$data" --gpu --workers $workers --set epochs=3 --set batch_size=64 \
  --json "$out/ddp.json" 2>&1 | grep -E "^\|" | tee "$out/ddp.txt"
start=$SECONDS
python -m tune_asr.search --data "$data" --space search_spaces/gpu_demo.yaml --trials 2 --max-epochs 2 \
  --gpus-per-trial 2 --name ddp2 --storage /tmp/searches --seed 0 > "$out/search_ddp2.log" 2>&1
echo "2-trial search of 2-GPU DDP trials: $((SECONDS - start)) s wall, rc $?" | tee -a "$out/gpu.txt"
grep -E "Total run time|Leaderboard of|finished|ASHA|failed" "$out/search_ddp2.log" | head
python - <<'PY' | tee -a "$out/gpu.txt"
import json, glob
for path in sorted(glob.glob("/tmp/searches/ddp2/trial_*/result.json")):
    lines = [json.loads(l) for l in open(path) if l.strip()]
    if lines:
        print(f"  {path.split('/')[-2]}: world_size {lines[0]['world_size']}, start-up {lines[0]['startup_seconds']:.1f} s, "
              f"epochs {len(lines)}, val_cer {lines[-1]['val_cer']:.4f}, audio-s/s {lines[-1]['audio_seconds_per_second']:.0f}")
PY
python - <<'PY' | tee -a "$out/gpu.txt"
import mlflow, glob
mlflow.set_tracking_uri("sqlite:////tmp/searches/mlflow.db")
runs = mlflow.search_runs(experiment_names=["ddp2"])
print(f"  MLflow runs in experiment ddp2: {len(runs)} ({', '.join(sorted(runs['status']))})")
PY
