#!/usr/bin/env bash
# Installs what tune-asr needs on a fresh Debian/Ubuntu machine: espeak-ng (demo speech) and the
# Python packages (pinned in pyproject.toml), the project itself in editable mode.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v espeak-ng >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -q && $SUDO apt-get install -y -q espeak-ng
fi
python3 -m pip install -q -e ".[test]"
