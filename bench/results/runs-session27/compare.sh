#!/usr/bin/env bash
# Session 27: the candidates of predeclare.md and their held-out comparisons (run from the repository root).
set -euo pipefail
C=/work/data/gre-corpus
halfway() {  # run dir -> the middle of its steps, rounded down to a multiple of 250
  local last
  last=$(ls "$1"/weights/step-*.safetensors | sed 's/.*step-0*//; s/\.safetensors//' | sort -n | tail -1)
  echo $(( (last / 2) / 250 * 250 ))
}
for R in S1-denoise-speed S2-dereverb-speed; do
  .venv/bin/gre average-weights /work/runs/$R/weights --from-step "$(halfway /work/runs/$R)" \
    -o /work/runs/$R/averaged-s27.safetensors
done
# Rule R: dereverb on held-out rooms.
.venv/bin/python bench/heldout_compare.py --task dereverb --heldout-clean $C/speech/heldout --heldout-rir $C/rir/heldout \
  --models masknet-iam-refine-tf-metric-v3-dereverb S2-speed=/work/runs/S2-dereverb-speed/averaged-s27.safetensors \
  --files 120 --threads 1 --jobs 2 --out bench/results/heldout_compare_dereverb_s27_speed_120
# Rule D: denoise on game noise and on steady noise + babble.
for cond in heldout heldout-synthetic; do
  suffix=$([ $cond = heldout ] && echo "" || echo "_synthetic")
  .venv/bin/python bench/heldout_compare.py --task denoise --heldout-clean $C/speech/heldout --heldout-noise $C/noise/$cond \
    --models masknet-psm-refine-augment-v2-denoise S1-speed=/work/runs/S1-denoise-speed/averaged-s27.safetensors \
    --files 120 --threads 1 --jobs 2 --out bench/results/heldout_compare_denoise_s27_speed${suffix}_120
done
