#!/usr/bin/env bash
# First device call on 4 GPUs (nvidia-h100-x4): search efficiency, round 1 (issue 5.5: TPE + ASHA and
# random search, seeds 0 and 1, one search per GPU at once), then DDP scaling of one large trial on
# 1, 2 and 4 GPUs (issues 5.3 and 8). Usage: source .device/prelude.sh && bash benchmarks/device_call_c.sh
source benchmarks/device_setup.sh
demo_corpus demo1200 1200
demo_corpus demo10k 10000
python benchmarks/search_efficiency.py run --data /tmp/demo1200 --space search_spaces/gpu_efficiency.yaml \
  --budget-s 300 --gpus 0 1 2 3 --searches tpe:0 random:0 tpe:1 random:1 --json "$out/efficiency_a.json" | tee -a "$out/gpu.txt"
tail -5 /tmp/efficiency/eff_tpe_0.log > "$out/eff_tpe_0_tail.txt"
python benchmarks/ddp_scaling.py --data /tmp/demo10k --gpu --workers 1 2 4 --set epochs=3 --set batch_size=64 \
  --json "$out/ddp.json" 2>&1 | grep -E "^\|" | tee "$out/ddp.txt"
