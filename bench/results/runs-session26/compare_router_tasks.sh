#!/bin/bash
# Rule R3 of predeclare.md: the router against the denoise and dereverb defaults on their own held-out pairs.
set -e
C=/work/data/gre-corpus
cd "$(dirname "$0")/../../.."
PY=${PYTHON:-.venv/bin/python}
$PY bench/heldout_compare.py --task denoise --heldout-clean $C/speech/heldout --heldout-noise $C/noise/heldout \
  --models masknet-psm-refine-augment-v2-denoise universal-router-v1 --files 120 --threads 1 --jobs ${JOBS:-1} \
  --out bench/results/heldout_compare_denoise_s26_router_120
$PY bench/heldout_compare.py --task dereverb --heldout-clean $C/speech/heldout --heldout-rir $C/rir/heldout \
  --models masknet-iam-refine-tf-metric-v3-dereverb universal-router-v1 --files 120 --threads 1 --jobs ${JOBS:-1} \
  --out bench/results/heldout_compare_dereverb_s26_router_120
$PY bench/heldout_compare.py --task denoise --heldout-clean $C/speech/heldout --heldout-noise $C/noise/heldout-synthetic \
  --models masknet-psm-refine-augment-v2-denoise universal-router-v1 --files 120 --threads 1 --jobs ${JOBS:-1} \
  --out bench/results/heldout_compare_denoise_s26_router_synthetic_120
