#!/usr/bin/env bash
# The test command: installs what is missing, then runs the whole suite (CPU only).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
python3 -m pytest -q "$@"
