#!/usr/bin/env bash
# Issues 22 and 23 in one device call on one GPU (at most 8 minutes), each part time-boxed so that a slow one
# cannot eat the others; everything lands in $OUT (8 files; summary.txt holds every part's output in order):
#   1 throughput at batch 128, kospeech's DeepSpeech2: ours with every lever, each lever off, the model
#     alone, alternated in one process, then the recurrence alone      -> throughput.json, profile.txt
#   2 waveform augmentation against plain, alternated, with a profile  -> augmentation.json, augmentation_profile.txt
#   2b the inference-cost measurement against the epoch it follows (issue 23)  -> inference_cost.json
#   3 if 100 s or more are left: 8 kospeech-sized trials at 0.25 GPU, 2 epochs, fifo, and where the whole
#     command's GPU-seconds go                                           -> packing.json
# (gpu.txt: the card.) Copy .device/kospeech_labels.csv in
# first (the 2,001-symbol vocabulary) for the figures; without it the vocabulary comes from the data.
# Usage (device): source .device/prelude.sh && bash benchmarks/device_call_perf.sh
#         (CPU):  bash benchmarks/device_call_perf.sh --smoke     (a tiny corpus and model, tens of seconds a part)
set -uo pipefail
smoke=${1:-}
out=${OUT:-/tmp/device_call_perf}
mkdir -p "$out"
budget=${BUDGET_S:-460}  # seconds for the whole call, setup included
deadline=$((SECONDS + budget))
summary="$out/summary.txt"
: > "$summary"
vocab_args=()
[ -f .device/kospeech_labels.csv ] && vocab_args=(--vocab .device/kospeech_labels.csv)
log() { echo "[$(date -u +%T) +${SECONDS}s] $*" | tee -a "$summary"; }
left() { echo $((deadline - SECONDS)); }
# part NAME MAX_S COMMAND...: runs COMMAND for at most MAX_S seconds, or what is left before the deadline
part() {
  local name=$1 box=$2; shift 2
  local limit=$(( box < $(left) ? box : $(left) ))
  if [ "$limit" -lt 20 ]; then log "$name: skipped (${limit} s left)"; return; fi
  log "$name: up to ${limit} s: $*"
  timeout --kill-after=10 "$limit" "$@" 2>&1 | grep -v "^  skipped" >> "$summary"
  log "$name: exit ${PIPESTATUS[0]} (124: ran out of its time)"
}

if [ "$smoke" = "--smoke" ]; then
  data=/tmp/device_call_perf_demo; flags=(--smoke); search_flags=(--smoke); echo cpu > "$out/gpu.txt"
  cost_overrides=(n_mels=40 conv_channels=4 rnn_hidden=16 rnn_layers=1)
  [ -d $data ] || python -m tune_asr.data.demo $data --utterances 24 --test-utterances 3 --seed 0 | tail -1
else
  data=/tmp/demo3k; flags=(--batch-size 128 "${vocab_args[@]}"); echo cpu > "$out/gpu.txt"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt" >> "$summary"
  [ -d $data ] || timeout 150 python -m tune_asr.data.demo $data --utterances 3000 --seed 0 2>&1 | tail -1 | tee -a "$summary"
  space=/tmp/kospeech_space.yaml
  cp benchmarks/packing/kospeech.yaml $space
  [ -f .device/kospeech_labels.csv ] && echo "vocab_path: $PWD/.device/kospeech_labels.csv" >> $space
  search_flags=(--space $space --trials 8 --gpus-per-trial 0.25 --max-epochs 2)
  cost_overrides=()
fi
log "setup done"
part throughput 210 python benchmarks/throughput/run.py --data $data "${flags[@]}" --rounds 3 \
  --json "$out/throughput.json" --profile "$out/profile.txt"
part augmentation 110 python benchmarks/augmentation/run.py --data $data "${flags[@]}" --rounds 3 \
  --json "$out/augmentation.json" --profile "$out/augmentation_profile.txt"
part inference_cost 60 python benchmarks/inference_cost/run.py --data $data "${vocab_args[@]}" --epochs 2 \
  --set batch_size=128 "${cost_overrides[@]}" --json "$out/inference_cost.json"
if [ "$(left)" -ge 100 ]; then
  part packing 200 python benchmarks/packing/run.py --data $data "${search_flags[@]}" --storage /tmp/packing --json "$out/packing.json"
  [ -f "$out/packing.json" ] || tail -30 /tmp/packing/packed.log >> "$summary" 2>/dev/null
else
  log "packing: skipped ($(left) s left, it needs about 100)"
fi
log "done"
