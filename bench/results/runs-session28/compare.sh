#!/usr/bin/env bash
# Session 28: the candidates of rule Q (predeclare.md) and their held-out comparisons (run from the repository root).
# Rule W's comparison is one command, at the top of bench/results/heldout_compare_dereverb_s28_wpe_120.md.
set -euo pipefail
C=/work/data/gre-corpus
DEFAULT=masknet-psm-refine-augment-v2-denoise
halfway() {  # run dir -> the middle of its steps, rounded down to a multiple of 250
  local last
  last=$(ls "$1"/weights/step-*.safetensors | sed 's/.*step-0*//; s/\.safetensors//' | sort -n | tail -1)
  echo $(( (last / 2) / 250 * 250 ))
}
for R in B1-denoise-snr0to25 B2-denoise-snr5to30; do
  .venv/bin/gre average-weights /work/runs/$R/weights --from-step "$(halfway /work/runs/$R)" \
    -o /work/runs/$R/averaged-s28.safetensors
done
MODELS=("$DEFAULT" "B1=/work/runs/B1-denoise-snr0to25/averaged-s28.safetensors"
        "B2=/work/runs/B2-denoise-snr5to30/averaged-s28.safetensors")
for cond in heldout heldout-synthetic; do
  suffix=$([ $cond = heldout ] && echo "" || echo "_synthetic")
  for snr in "5 20" "-5 15"; do
    tag=$([ "$snr" = "5 20" ] && echo "_snr5to20" || echo "")
    .venv/bin/python bench/heldout_compare.py --task denoise --snr-range $snr --heldout-clean $C/speech/heldout \
      --heldout-noise $C/noise/$cond --models "${MODELS[@]}" --files 120 --threads 1 --jobs 2 \
      --out bench/results/heldout_compare_denoise_s28_snr${suffix}${tag}_120
  done
done
