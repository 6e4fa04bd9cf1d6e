#!/usr/bin/env bash
# Session 25, predeclare.md (B): the dereverb default run twice against once (run from the repository root).
set -euo pipefail
C=/work/data/gre-corpus
M=masknet-iam-refine-tf-metric-v3-dereverb
.venv/bin/python bench/heldout_compare.py --task dereverb --heldout-clean $C/speech/heldout --heldout-rir $C/rir/heldout \
  --models $M twice=$M+$M --files 120 --threads 1 --jobs 1 --out bench/results/heldout_compare_dereverb_s25_twice_120
