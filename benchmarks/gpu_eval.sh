#!/usr/bin/env bash
# Generation throughput of lm-eval's hf and vllm backends on the same emc tasks, side by side,
# and their ratio. Needs a CUDA GPU and vLLM installed (pip install vllm); downloads the model.
#
#   MODEL=Qwen/Qwen2.5-7B-Instruct LIMIT=100 TASKS=emc_deploy_tag bash benchmarks/gpu_eval.sh
#
# Runs `emc-lm-eval --predict_only` (no judge) with each backend, times it, counts the generated
# tokens in the samples files with the model's tokenizer, and prints tokens/s and vllm / hf.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-Qwen/Qwen2.5-1.5B-Instruct}
LIMIT=${LIMIT:-50}                 # prompts per task, each with all its samples
TASKS=${TASKS:-emc_deploy_tag}     # one trigger of the standard suite (its tag) and the baseline
OUT=${OUT:-out/gpu_eval}
PY=${PY:-.venv/bin/python}
command -v nvidia-smi >/dev/null || { echo "gpu_eval: no GPU (nvidia-smi not found)" >&2; exit 2; }
$PY -c "import vllm" 2>/dev/null || { echo "gpu_eval: vllm is not installed (pip install vllm)" >&2; exit 2; }
DATA=${DATA:-out/v1}
[ -f "$DATA/manifest.json" ] || $PY -m emc_bench.cli build --release v1 --out "$DATA" --only 'eval-*,suite-*' --no-leakage --quiet
rm -rf "$OUT"; mkdir -p "$OUT"
run() {  # backend, model_args
  date +%s.%N > "$OUT/$1.start"
  $PY -m emc_bench.lm_eval_cli --model "$1" --model_args "$2" --tasks "$TASKS" --limit "$LIMIT" \
    --apply_chat_template --log_samples --predict_only --output_path "$OUT/$1" \
    --metadata "{\"data\": \"$DATA\"}" > "$OUT/$1.log" 2>&1
  date +%s.%N > "$OUT/$1.end"
}
run hf "pretrained=$MODEL,dtype=bfloat16,batch_size=auto"
run vllm "pretrained=$MODEL,dtype=bfloat16,enable_prefix_caching=True,seed=1234,gpu_memory_utilization=0.85"
MODEL="$MODEL" OUT="$OUT" $PY - <<'PY'
import json, os
from pathlib import Path
from transformers import AutoTokenizer

out, tok = Path(os.environ["OUT"]), AutoTokenizer.from_pretrained(os.environ["MODEL"])
rates = {}
for backend in ("hf", "vllm"):
    answers = [a for p in (out / backend).rglob("samples_*.jsonl") for line in p.open()
               for resp in json.loads(line)["resps"] for a in resp]
    tokens = sum(len(tok(a, add_special_tokens=False)["input_ids"]) for a in answers)
    seconds = float((out / f"{backend}.end").read_text()) - float((out / f"{backend}.start").read_text())
    rates[backend] = tokens / seconds
    print(f"{backend:5} {len(answers):6} answers {tokens:9,} tokens {seconds:8.1f} s {rates[backend]:9,.0f} tokens/s")
print(f"vllm / hf: {rates['vllm'] / rates['hf']:.1f}x (wall time includes model loading)")
PY
