# Session 20 candidates (predeclare20.md): average of kept weights from the halfway step, then the comparisons.
set -e
cd /work/main
C=/work/data/gre-corpus
avg() {  # run dir -> averaged.safetensors of the kept weights from floor(last/2 to 250) on
  R=$1
  last=$(ls $R/weights/step-*.safetensors | sed 's/.*step-0*//; s/\.safetensors//' | sort -n | tail -1)
  half=$(( (last / 2) / 250 * 250 ))
  if [ $last -lt 1000 ]; then half=$last; fi
  files=$(ls $R/weights/step-*.safetensors | awk -F'step-' -v h=$half '{n=$2+0; if (n>=h) print}')
  .venv/bin/gre average-weights $files -o $R/averaged.safetensors
}
avg /work/runs/M1-denoise-metric
avg /work/runs/M2-dereverb-metric
for cond in heldout heldout-synthetic; do
  suffix=$([ $cond = heldout ] && echo "" || echo "_synthetic")
  .venv/bin/python bench/heldout_compare.py --task denoise --heldout-clean $C/speech/heldout --heldout-noise $C/noise/$cond \
    --models masknet-psm-refine-augment-v2-denoise M1-metric=/work/runs/M1-denoise-metric/averaged.safetensors \
    --files 120 --threads 1 --jobs 2 --out bench/results/heldout_compare_denoise_s20_metric${suffix}_120
done
.venv/bin/python bench/heldout_compare.py --task dereverb --heldout-clean $C/speech/heldout --heldout-rir $C/rir/heldout \
  --models masknet-iam-refine-tf-dereverb M2-metric=/work/runs/M2-dereverb-metric/averaged.safetensors \
  --files 120 --threads 1 --jobs 2 --out bench/results/heldout_compare_dereverb_s20_metric_120
