#!/usr/bin/env bash
# Install (scripts/install.sh) and run the whole offline test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
unset PYTHONDONTWRITEBYTECODE
bash scripts/install.sh
# The leaderboard's browser tests drive Debian's chromium (never a playwright browser download).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } > /dev/null
  else
    echo "scripts/test.sh: /usr/bin/chromium is missing (as root: apt-get install -y chromium); the browser tests will fail" >&2
  fi
fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest -n 2 "$@"
