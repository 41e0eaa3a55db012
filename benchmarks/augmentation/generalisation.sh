#!/usr/bin/env bash
# Does waveform augmentation make the searched model work on voices it never heard (issue 17)?
# Two searches of search_spaces/voices.yaml (the demo corpus split by speaker), one with its waveform
# augmentation keys and one without them, side by side at the same time budget, each on its own Ray,
# then both leaderboards. Runs on CPU (default) or GPU (GPUS_PER_TRIAL=0.25; the plain search on GPU 0,
# the augmented one on AUGMENTED_GPU, default 1; 0 shares one GPU between the two).
# SEARCH_FLAGS go to both searches (e.g. "--grace-period 3").
# Usage: [UTTERANCES=480] [BUDGET_S=900] [GPUS_PER_TRIAL=0] [AUGMENTED_GPU=1] [SEARCH_FLAGS=...] [OUT=/tmp/voices] \
#          bash benchmarks/augmentation/generalisation.sh
set -euo pipefail
utterances=${UTTERANCES:-480} budget=${BUDGET_S:-900} gpus=${GPUS_PER_TRIAL:-0} out=${OUT:-/tmp/voices}
mkdir -p "$out"
data="$out/demo$utterances"
[ -d "$data" ] || python -m tune_asr.data.demo "$data" --utterances "$utterances" --seed 0 2>&1 | tail -1
grep -vE '^(speed_perturb|noise_|gain_db|# Waveform augmentation)' search_spaces/voices.yaml > "$out/voices_plain.yaml"
run() {  # NAME SPACE GPU (a storage each: two searches creating one MLflow sqlite file at once collide)
  CUDA_VISIBLE_DEVICES=$3 python -m tune_asr.search --data "$data" --space "$2" --trials 1000 --time-budget-s "$budget" \
    --gpus-per-trial "$gpus" --seed 0 ${SEARCH_FLAGS:-} --name "$1" --storage "$out/$1" > "$out/$1.log" 2>&1
}
run voices_plain "$out/voices_plain.yaml" 0 &
run voices_augmented search_spaces/voices.yaml "${AUGMENTED_GPU:-1}" &
wait
for name in voices_plain voices_augmented; do
  echo "== $name"; python -m tune_asr.results "$out/$name/$name" --no-mlflow | head -30
done
