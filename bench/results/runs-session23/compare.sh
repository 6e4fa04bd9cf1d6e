#!/usr/bin/env bash
# Session 23: the candidates of predeclare.md and their held-out comparisons (run from the repository root).
set -euo pipefail
C=/work/data/gre-corpus
halfway() {  # run dir -> its halfway step, rounded down to a multiple of 250
  local last
  last=$(ls "$1"/weights/step-*.safetensors | sed 's/.*step-0*//; s/\.safetensors//' | sort -n | tail -1)
  echo $(( (last / 2) / 250 * 250 ))
}
for R in D1-denoise-mag-metric D2-denoise-mag; do
  .venv/bin/gre average-weights /work/runs/$R/weights --from-step "$(halfway /work/runs/$R)" \
    -o /work/runs/$R/averaged-s23.safetensors
done
for cond in heldout heldout-synthetic; do
  suffix=$([ $cond = heldout ] && echo "" || echo "_synthetic")
  .venv/bin/python bench/heldout_compare.py --task denoise --heldout-clean $C/speech/heldout --heldout-noise $C/noise/$cond \
    --models masknet-psm-refine-augment-v2-denoise D1-mag-metric=/work/runs/D1-denoise-mag-metric/averaged-s23.safetensors \
    D2-mag=/work/runs/D2-denoise-mag/averaged-s23.safetensors \
    --files 120 --threads 1 --jobs 2 --out bench/results/heldout_compare_denoise_s23_mag${suffix}_120
done
