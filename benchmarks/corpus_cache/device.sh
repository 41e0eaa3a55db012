#!/usr/bin/env bash
# The corpus cache at 100 hours on the device machine (issue 15.3): build time, cold and warm load_corpus,
# memory of 4 trials mapping one cache, batch throughput mapped vs in memory. The synthetic source is mostly
# hard links (a few hundred MB); the cache itself is 11.5 GB in /tmp. No GPU is used: the device machine is
# simply the larger one (16 cores, 128 GiB). Usage: bash benchmarks/corpus_cache/device.sh
source benchmarks/device_setup.sh
python benchmarks/corpus_cache/run.py --hours 100 --processes 4 --json "$out/corpus_cache_100h.json" \
  2> "$out/corpus_cache_100h.stderr" | tee "$out/corpus_cache_100h.txt"
