#!/usr/bin/env bash
# Does the pipeline learn unseen sentences on a GPU (issue 2)? 10,000 demo utterances, a mid-sized
# DeepSpeech2, validation CER per epoch. One GPU.
# Usage (device): source .device/prelude.sh && [EPOCHS=15] bash benchmarks/demo_cer/device.sh
source benchmarks/device_setup.sh
start=$SECONDS
demo_corpus demo10k 10000
echo "demo corpus: $((SECONDS - start)) s" | tee -a "$out/gpu.txt"
start=$SECONDS
python -m tune_asr.train --data /tmp/demo10k --out /tmp/demo_cer_run --no-progress \
  --set rnn_hidden=512 --set rnn_layers=3 --set batch_size=32 --set lr=1e-3 --set schedule=warmup_cosine \
  --set warmup_fraction=0.05 --set epochs=${EPOCHS:-20} --set dropout=0.1 2>&1 | grep -v "^  skipped" | tee "${stem}_train.log"
echo "training: $((SECONDS - start)) s" | tee -a "$out/gpu.txt"
cp /tmp/demo_cer_run/metrics.json "${stem}_metrics.json"
