#!/usr/bin/env bash
# The main job on the built-in demo data: installs what is missing, then runs a small search.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
python3 -m tune_asr.search "$@"
