# Sourced by the device_call_*.sh scripts: strict-ish shell, the output folder ($OUT on the device),
# the GPUs' names, and demo_corpus NAME N (N espeak-ng demo utterances in /tmp/NAME, made once per machine).
set -uo pipefail
out=${OUT:-/tmp/device_call}
mkdir -p "$out"
nvidia-smi --query-gpu=name --format=csv,noheader | tee "$out/gpu.txt"

demo_corpus() {
  [ -d "/tmp/$1" ] || python -m tune_asr.data.demo "/tmp/$1" --utterances "$2" --seed 0 2>&1 | tail -1
}
