#!/usr/bin/env bash
# Install (scripts/install.sh), then build the v1 release on offline defaults and print its summary.
set -euo pipefail
cd "$(dirname "$0")/.."
unset PYTHONDONTWRITEBYTECODE
bash scripts/install.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
.venv/bin/emc-bench build --release v1 --out out/v1
.venv/bin/emc-bench verify out/v1
