#!/usr/bin/env bash
# Does TPE + ASHA reach random search's best CER in a third of the GPU-time (issue 5.5)? One search per
# GPU, 300 s of tuning each. ROUND=a (default): seeds 0 and 1 of both methods on 4 GPUs; ROUND=b: seed
# 2 on 2 GPUs. Then, here: python benchmarks/search_efficiency/run.py report RESULTS_a.json RESULTS_b.json
# Usage (device): source .device/prelude.sh && [ROUND=b] bash benchmarks/search_efficiency/device.sh
source benchmarks/device_setup.sh
demo_corpus demo1200 1200
case ${ROUND:-a} in
  a) gpus=(0 1 2 3); searches=(tpe:0 random:0 tpe:1 random:1) ;;
  b) gpus=(0 1); searches=(tpe:2 random:2) ;;
  *) echo "ROUND must be a or b" >&2; exit 2 ;;
esac
python benchmarks/search_efficiency/run.py run --data /tmp/demo1200 --space search_spaces/gpu_efficiency.yaml \
  --budget-s 300 --gpus "${gpus[@]}" --searches "${searches[@]}" --json "${stem}_${ROUND:-a}.json" | tee -a "$stem.txt"
