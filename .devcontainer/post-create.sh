#!/usr/bin/env bash
# Runs once when a Codespace (or any dev container) is created from this repository: it
# installs the workshop exactly as the README's Quickstart says, so the learner opens a
# terminal and types `invoke check`. The container puts .venv/bin first on PATH
# (devcontainer.json, remoteEnv), so no terminal needs `. .venv/bin/activate`.
set -euo pipefail
cd "$(dirname "$0")/.."

# wrk, for `invoke bench` (optional: the benchmark falls back to its own load generator).
if [ "${WORKSHOP_SKIP_APT:-}" != 1 ] && command -v apt-get >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  { $sudo apt-get update -q && $sudo apt-get install -y -q wrk; } >/dev/null 2>&1 \
    || echo "Could not install wrk: invoke bench will use its built-in load generator."
fi

# The README's install line, word for word (tests/test_platforms.py keeps them the same):
python3 -m venv .venv && . .venv/bin/activate && pip install -e .

echo "Ready. Open steps/01_echo/README.md, then run: invoke check"
