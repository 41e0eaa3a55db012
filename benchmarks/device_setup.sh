# Sourced first by every benchmarks/<question>/device.sh: strict-ish shell, the output folder ($OUT on
# the device), the GPUs' names, $stem (the results' name: GPU kind and count, UTC date, e.g.
# $OUT/4xh100_2026-11-26; copy what lands there to benchmarks/<question>/results/), vocab_args (the
# competition's 2,001-symbol vocabulary where the device bundle carries it, else none: the benchmarks
# then build the vocabulary from the data), and demo_corpus NAME N (N espeak-ng demo utterances in
# /tmp/NAME, made once per machine).
set -uo pipefail
out=${OUT:-/tmp/device_call}
mkdir -p "$out"
nvidia-smi --query-gpu=name --format=csv,noheader | tee "$out/gpu.txt"
gpu_count=$(wc -l < "$out/gpu.txt")
gpu_kind=$(head -1 "$out/gpu.txt" | grep -oiE '\b[A-Z][0-9]{2,4}\b' | head -1 | tr 'A-Z' 'a-z')
stem="$out/$([ "$gpu_count" -gt 1 ] && echo "${gpu_count}x")${gpu_kind:-gpu}_$(date -u +%F)"
vocab_args=()
[ -f .device/kospeech_labels.csv ] && vocab_args=(--vocab .device/kospeech_labels.csv)

demo_corpus() {
  [ -d "/tmp/$1" ] || python -m tune_asr.data.demo "/tmp/$1" --utterances "$2" --seed 0 2>&1 | tail -1
}
