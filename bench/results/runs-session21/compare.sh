# Session 21 candidates (predeclare21.md), then the comparisons on 120 held-out pairs.
set -e
cd /work/main
C=/work/data/gre-corpus
avg_from() {  # run dir, first step -> averaged.safetensors of the kept weights from that step on
  R=$1; from=$2
  files=$(ls $R/weights/step-*.safetensors | awk -F'step-' -v h=$from '{n=$2+0; if (n>=h) print}')
  echo "$R: averaging $(echo $files | wc -w) checkpoints from step $from"
  .venv/bin/gre average-weights $files -o $R/averaged-s21.safetensors
}
last3=$(ls /work/runs/M3-denoise-metric1/weights/step-*.safetensors | sed 's/.*step-0*//; s/\.safetensors//' | sort -n | tail -1)
avg_from /work/runs/M2-dereverb-metric 3500
avg_from /work/runs/M3-denoise-metric1 $(( (last3 / 2) / 250 * 250 ))
.venv/bin/python bench/heldout_compare.py --task dereverb --heldout-clean $C/speech/heldout --heldout-rir $C/rir/heldout \
  --models masknet-iam-refine-tf-metric-dereverb M2-later=/work/runs/M2-dereverb-metric/averaged-s21.safetensors \
  --files 120 --threads 1 --jobs 2 --out bench/results/heldout_compare_dereverb_s21_metric_later_120
for cond in heldout heldout-synthetic; do
  suffix=$([ $cond = heldout ] && echo "" || echo "_synthetic")
  .venv/bin/python bench/heldout_compare.py --task denoise --heldout-clean $C/speech/heldout --heldout-noise $C/noise/$cond \
    --models masknet-psm-refine-augment-v2-denoise M3-metric1=/work/runs/M3-denoise-metric1/averaged-s21.safetensors \
    --files 120 --threads 1 --jobs 2 --out bench/results/heldout_compare_denoise_s21_metric1${suffix}_120
done
