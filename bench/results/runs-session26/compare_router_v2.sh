#!/bin/bash
# Rule R2 of predeclare.md: a router whose classifier saw 32,000 crops against universal-router-v1 (8,000),
# on the 120 held-out universal pairs of compare_router.sh. The v2 file was written by
#   python -m models.train.degradation --clean C/speech/train --noise C/noise/train --rir C/rir/train \
#     --examples 32000 --val-examples 1600 --out /work/runs/router/universal-router-v2.safetensors
set -e
C=/work/data/gre-corpus
cd "$(dirname "$0")/../../.."
PY=${PYTHON:-.venv/bin/python}
V2=${ROUTER_V2:-/work/runs/router/universal-router-v2.safetensors}
$PY bench/heldout_compare.py --task universal --heldout-clean $C/speech/heldout --heldout-noise $C/noise/heldout \
  --heldout-rir $C/rir/heldout --models universal-router-v1 "router-v2=$V2" --files 120 --threads 1 --jobs ${JOBS:-2} \
  --out bench/results/heldout_compare_universal_s26_router_v2_120
