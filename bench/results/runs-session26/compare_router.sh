#!/bin/bash
# Rule R of predeclare.md: the router against the universal default on 120 held-out universal pairs,
# with the held-out noise (the rule) and with the synthetic held-out noise (reported beside it).
set -e
C=/work/data/gre-corpus
cd "$(dirname "$0")/../../.."
PY=${PYTHON:-.venv/bin/python}
# The router was compared as the file that `python -m models.train.degradation ... --out` wrote (the same
# tensors and models as the shipped universal-router-v1, which re-running this uses by default).
R=${ROUTER:-universal-router-v1}
$PY bench/heldout_compare.py --task universal --heldout-clean $C/speech/heldout --heldout-noise $C/noise/heldout \
  --heldout-rir $C/rir/heldout --models universal-v2-then-bwe "router=$R" --files 120 --threads 1 --jobs ${JOBS:-1} \
  --out bench/results/heldout_compare_universal_s26_router_120
$PY bench/heldout_compare.py --task universal --heldout-clean $C/speech/heldout --heldout-noise $C/noise/heldout-synthetic \
  --heldout-rir $C/rir/heldout --models universal-v2-then-bwe "router=$R" --files 120 --threads 1 --jobs ${JOBS:-1} \
  --out bench/results/heldout_compare_universal_s26_router_synthetic_120
