# Session 22 candidates (predeclare.md B and C), then the comparisons on 120 held-out pairs.
set -e
cd /work/main
C=/work/data/gre-corpus
avg_from() {  # run dir, first step -> RUN/averaged-s22.safetensors of the kept weights from that step on
  R=$1; from=$2
  files=$(ls $R/weights/step-*.safetensors | awk -F'step-' -v h=$from '{n=$2+0; if (n>=h) print}')
  echo "$R: averaging $(echo $files | wc -w) checkpoints from step $from"
  .venv/bin/gre average-weights $files -o $R/averaged-s22.safetensors
}
lastU=$(ls /work/runs/U1-universal-metric/weights/step-*.safetensors | sed 's/.*step-0*//; s/\.safetensors//' | sort -n | tail -1)
avg_from /work/runs/M2-dereverb-metric 5500
avg_from /work/runs/U1-universal-metric $(( (lastU / 2) / 250 * 250 ))
.venv/bin/python bench/heldout_compare.py --task dereverb --heldout-clean $C/speech/heldout --heldout-rir $C/rir/heldout \
  --models masknet-iam-refine-tf-metric-v2-dereverb M2-s22=/work/runs/M2-dereverb-metric/averaged-s22.safetensors \
  --files 120 --threads 1 --jobs 2 --out bench/results/heldout_compare_dereverb_s22_metric_5500_120
for cond in heldout heldout-synthetic; do
  suffix=$([ $cond = heldout ] && echo "" || echo "_synthetic")
  .venv/bin/python bench/heldout_compare.py --task universal --heldout-clean $C/speech/heldout --heldout-noise $C/noise/$cond \
    --heldout-rir $C/rir/heldout \
    --models masknet-psm-universal-v2 U1-metric=/work/runs/U1-universal-metric/averaged-s22.safetensors \
    --files 120 --threads 1 --jobs 2 --out bench/results/heldout_compare_universal_s22_metric${suffix}_120
done
