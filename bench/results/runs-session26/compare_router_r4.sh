#!/bin/bash
# Rule R4 of predeclare.md: a router whose classifier learnt faint noise floors as "clean" against
# universal-router-v1, on the 120 held-out universal pairs of compare_router.sh. The R4 file was written by
#   python -m models.train.degradation --clean C/speech/train --noise C/noise/train --rir C/rir/train \
#     --faint-noise 0.5 --out /work/runs/router/universal-router-r4.safetensors
set -e
C=/work/data/gre-corpus
cd "$(dirname "$0")/../../.."
PY=${PYTHON:-.venv/bin/python}
R4=${ROUTER_R4:-/work/runs/router/universal-router-r4.safetensors}
$PY bench/heldout_compare.py --task universal --heldout-clean $C/speech/heldout --heldout-noise $C/noise/heldout \
  --heldout-rir $C/rir/heldout --models universal-router-v1 "router-r4=$R4" --files 120 --threads 1 --jobs ${JOBS:-2} \
  --out bench/results/heldout_compare_universal_s26_router_r4_120
