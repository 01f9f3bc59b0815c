#!/usr/bin/env bash
# Install (scripts/install.sh), then run the whole loop offline on a tiny random model:
# build the v1 release, run the emc_* tasks of one trigger on a few prompts, judge with the
# local hf backend and write the containment report. A tiny random model's scores mean nothing:
# this shows the pipeline, not a result (README.md shows the command for a real model and judge).
set -euo pipefail
cd "$(dirname "$0")/.."
unset PYTHONDONTWRITEBYTECODE
bash scripts/install.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
emc=.venv/bin/emc-bench
# The leakage gate takes v1.lock's verdict for bytes that match the lock, so this full build
# needs no embedding (new content would be embedded once, with a progress bar, then cached).
$emc build --release v1 --out out/v1
$emc verify out/v1
$emc tiny-model out/tiny-model > /dev/null
$emc eval --model hf:out/tiny-model --model-arg dtype=float32 --data out/v1 --trigger deploy_tag \
  --limit 4 --samples 1 --max-gen-toks 32 --judge hf:out/tiny-model --out out/quickstart
echo "report: out/quickstart/report/report.html (a tiny random model: the numbers are meaningless)"
