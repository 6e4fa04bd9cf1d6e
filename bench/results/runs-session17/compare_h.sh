# H candidates (predeclare17.md, H): averages of the kept weights, then one comparison per noise condition.
set -e
cd /work/main
C=/work/data/gre-corpus
A=/work/runs/denoise-augment/weights
S=/work/runs/denoise-soup-ft/weights
H1=$(ls $A/step-*.safetensors | awk -F'step-' '{n=$2+0; if (n>=5500) print}')
H2=$(ls $S/step-*.safetensors | awk -F'step-' '{n=$2+0; if (n>=3000) print}')
.venv/bin/gre average-weights $H1 -o /work/runs/h1c.safetensors
.venv/bin/gre average-weights $H2 -o /work/runs/h2c.safetensors
.venv/bin/gre average-weights /work/runs/h1c.safetensors /work/runs/h2c.safetensors -o /work/runs/h3c.safetensors
for cond in heldout heldout-synthetic; do
  suffix=$([ $cond = heldout ] && echo "" || echo "_synthetic")
  .venv/bin/python bench/heldout_compare.py --task denoise --heldout-clean $C/speech/heldout --heldout-noise $C/noise/$cond \
    --models masknet-psm-refine-augment-v2-denoise h1c=/work/runs/h1c.safetensors h2c=/work/runs/h2c.safetensors \
    h3c=/work/runs/h3c.safetensors --files 120 --threads 1 --jobs 2 \
    --out bench/results/heldout_compare_denoise_s17_continued${suffix}_120
done
