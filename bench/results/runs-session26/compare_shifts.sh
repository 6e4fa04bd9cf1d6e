#!/bin/bash
# Rule S of predeclare.md: each default as it is, and averaged over 2 and 4 delays, on 120 held-out pairs.
set -e
C=/work/data/gre-corpus
cd "$(dirname "$0")/../../.."
PY=${PYTHON:-.venv/bin/python}
DN=masknet-psm-refine-augment-v2-denoise
DR=masknet-iam-refine-tf-metric-v3-dereverb
$PY bench/heldout_compare.py --task denoise --heldout-clean $C/speech/heldout --heldout-noise $C/noise/heldout \
  --models "$DN" "shifts2=$DN --shifts 2" "shifts4=$DN --shifts 4" --files 120 --threads 1 --jobs ${JOBS:-1} \
  --out bench/results/heldout_compare_denoise_s26_shifts_120
$PY bench/heldout_compare.py --task dereverb --heldout-clean $C/speech/heldout --heldout-rir $C/rir/heldout \
  --models "$DR" "shifts2=$DR --shifts 2" "shifts4=$DR --shifts 4" --files 120 --threads 1 --jobs ${JOBS:-1} \
  --out bench/results/heldout_compare_dereverb_s26_shifts_120
