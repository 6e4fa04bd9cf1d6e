#!/usr/bin/env bash
# Session 24: the M2 candidate of predeclare.md (A) and its held-out comparison (run from the repository root).
set -euo pipefail
C=/work/data/gre-corpus
R=/work/runs/M2-dereverb-metric
.venv/bin/gre average-weights $R/weights --from-step 6000 -o $R/averaged-s24.safetensors
.venv/bin/python bench/heldout_compare.py --task dereverb --heldout-clean $C/speech/heldout --heldout-rir $C/rir/heldout \
  --models masknet-iam-refine-tf-metric-v3-dereverb m2-late=$R/averaged-s24.safetensors \
  --files 120 --threads 1 --jobs 2 --out bench/results/heldout_compare_dereverb_s24_metric_6000_120
