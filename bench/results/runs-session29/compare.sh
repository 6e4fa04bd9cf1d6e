#!/usr/bin/env bash
# Session 29: the candidates of rules R and D (predeclare.md) and their held-out comparisons (run from the repository
# root). `compare.sh` makes the rule comparisons and the information-only ones; `compare.sh seed1 L1|L2` the
# fresh-draw check a passing candidate must also pass.
set -euo pipefail
C=/work/data/gre-corpus
LONG=/work/data/heldout-long  # made by long_heldout.sh
DENOISE=masknet-psm-refine-augment-v2-denoise
DEREVERB=masknet-iam-refine-tf-metric-v3-dereverb
halfway() {  # run dir -> the middle of its steps, rounded down to a multiple of 250
  local last
  last=$(ls "$1"/weights/step-*.safetensors | sed 's/.*step-0*//; s/\.safetensors//' | sort -n | tail -1)
  echo $(( (last / 2) / 250 * 250 ))
}
L1=/work/runs/L1-dereverb-seg4/averaged-s29.safetensors
L2=/work/runs/L2-denoise-seg4/averaged-s29.safetensors
cmp() { .venv/bin/python bench/heldout_compare.py --files 120 --threads 1 --jobs 2 "$@"; }
dereverb() { cmp --task dereverb --heldout-rir $C/rir/heldout --models $DEREVERB "L1=$L1" "$@"; }
denoise() { cmp --task denoise --models $DENOISE "L2=$L2" "$@"; }
if [ "${1:-}" = seed1 ]; then
  if [ "$2" = L1 ]; then
    dereverb --heldout-clean $C/speech/heldout --seed 1 --out bench/results/heldout_compare_dereverb_s29_seg4_seed1_120
  else
    for cond in heldout heldout-synthetic; do
      suffix=$([ $cond = heldout ] && echo "" || echo "_synthetic")
      denoise --heldout-clean $C/speech/heldout --heldout-noise $C/noise/$cond --seed 1 \
        --out bench/results/heldout_compare_denoise_s29_seg4${suffix}_seed1_120
    done
  fi
  exit 0
fi
for R in L1-dereverb-seg4 L2-denoise-seg4; do
  .venv/bin/gre average-weights /work/runs/$R/weights --from-step "$(halfway /work/runs/$R)" \
    -o /work/runs/$R/averaged-s29.safetensors
done
# Rule R, then the long files (information).
dereverb --heldout-clean $C/speech/heldout --out bench/results/heldout_compare_dereverb_s29_seg4_120
dereverb --heldout-clean $LONG --out bench/results/heldout_compare_dereverb_s29_seg4_long_120
# Rule D (-5..15 dB), then 5..20 dB and the long files (information).
for cond in heldout heldout-synthetic; do
  suffix=$([ $cond = heldout ] && echo "" || echo "_synthetic")
  denoise --heldout-clean $C/speech/heldout --heldout-noise $C/noise/$cond \
    --out bench/results/heldout_compare_denoise_s29_seg4${suffix}_120
  denoise --heldout-clean $C/speech/heldout --heldout-noise $C/noise/$cond --snr-range 5 20 \
    --out bench/results/heldout_compare_denoise_s29_seg4${suffix}_snr5to20_120
  denoise --heldout-clean $LONG --heldout-noise $C/noise/$cond \
    --out bench/results/heldout_compare_denoise_s29_seg4${suffix}_long_120
done
