#!/usr/bin/env bash
# A folder of links to the held-out clean files of at least 4 s (session 29's information-only condition).
# Usage: long_heldout.sh CORPUS OUT_DIR
set -euo pipefail
CORPUS=$1 OUT=$2 PY=${PYTHON:-.venv/bin/python}
mkdir -p "$OUT"
"$PY" - "$CORPUS/speech/heldout" "$OUT" <<'PY'
import sys
from pathlib import Path

import soundfile as sf

src, out = Path(sys.argv[1]), Path(sys.argv[2])
n = 0
for f in sorted(p for p in src.rglob("*") if p.suffix in (".wav", ".flac")):
    if sf.info(str(f)).duration >= 4.0:
        link = out / "__".join(f.relative_to(src).parts)
        if not link.exists():
            link.symlink_to(f.resolve())
        n += 1
print(f"{n} held-out files of at least 4 s linked in {out}")
PY
