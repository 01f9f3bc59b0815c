#!/usr/bin/env bash
# Create .venv and install emc-bench with the versions pinned for a CPU machine
# (constraints/cpu.txt). On a GPU machine use `pip install -e .` with your own torch instead.
set -euo pipefail
cd "$(dirname "$0")/.."
unset PYTHONDONTWRITEBYTECODE
command -v uv >/dev/null 2>&1 || python3 -m pip install -q "uv==0.13.9"
[ -x .venv/bin/python ] || uv venv -q .venv --python python3
uv pip install -q --python .venv/bin/python \
  --find-links "${PIP_FIND_LINKS:-/opt/wheels}" \
  -c constraints/cpu.txt -e ".[test]"
if .venv/bin/python -m pip --version >/dev/null 2>&1; then :; fi
if uv pip list --python .venv/bin/python 2>/dev/null | grep -qiE '^(nvidia-|triton|cuda-)'; then
  echo "install.sh: CUDA packages were installed; expected the CPU torch from constraints/cpu.txt" >&2
  exit 1
fi
