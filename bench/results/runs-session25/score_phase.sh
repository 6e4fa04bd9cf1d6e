#!/usr/bin/env bash
# Session 25, predeclare.md (A): PD of P2's and P3's last kept weights on 16 files of their own training source
# and of their validation source (run from the repository root, after both runs stopped).
set -euo pipefail
C=/work/data/gre-corpus
P2=$(ls /work/runs/P2-phase-one-source-mpd/weights/step-*.safetensors | tail -1)
P3=$(ls /work/runs/P3-phase-one-source-b4/weights/step-*.safetensors | tail -1)
for src in asterisk-en asterisk-es; do
  .venv/bin/python bench/heldout_compare.py --task phase --heldout-clean $C/speech/train/$src \
    --models griffin-lim "p2-$(basename $P2 .safetensors)=$P2" "p3-$(basename $P3 .safetensors)=$P3" \
    --files 16 --threads 1 --jobs 2 --out bench/results/runs-session25/pd_train_$src
done
