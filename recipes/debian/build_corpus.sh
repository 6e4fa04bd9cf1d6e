#!/usr/bin/env bash
# Build gre's training / held-out corpus from Debian packages (see recipes/debian/README.md).
#
#   bash recipes/debian/build_corpus.sh OUT_DIR [--tier full|ci] [--seed N] [--jobs N] [--with-tts]
#
# Runs as root on Debian 12 (apt-get download, dpkg-deb; installs ffmpeg if missing). Python:
# $PYTHON (default python3) with numpy, soundfile, soxr, scipy and pyroomacoustics.
# Re-running skips every step already built (stamps in OUT_DIR/meta/.done-*).
# Writes OUT_DIR/READY_TRAIN once train speech + noise + RIRs are complete, OUT_DIR/READY_ALL at the end.
set -euo pipefail

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 1 ]] || usage
OUT=""; TIER=full; SEED=20261121; JOBS=2; WITH_TTS=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --tier) TIER=${2:?--tier needs full or ci}; shift 2 ;;
    --seed) SEED=${2:?--seed needs a number}; shift 2 ;;
    --jobs) JOBS=${2:?--jobs needs a number}; shift 2 ;;
    --with-tts) WITH_TTS=1; shift ;;
    -h|--help) usage ;;
    -*) echo "build_corpus.sh: unknown option $1" >&2; usage ;;
    *) [[ -z $OUT ]] || { echo "build_corpus.sh: one OUT_DIR only (got $OUT and $1)" >&2; exit 2; }; OUT=$1; shift ;;
  esac
done
[[ -n $OUT ]] || usage
[[ $TIER == full || $TIER == ci ]] || { echo "build_corpus.sh: --tier must be full or ci, not $TIER" >&2; exit 2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${PYTHON:-python3}
mkdir -p "$OUT/cache/debs" "$OUT/cache/raw" "$OUT/meta"
OUT=$(cd "$OUT" && pwd)
TIMINGS=$OUT/meta/timings.tsv
rm -f "$OUT/READY_TRAIN" "$OUT/READY_ALL"  # set again below once their contents are complete
T_START=$(date +%s)

log() { echo "[build_corpus $(date +%H:%M:%S)] $*" >&2; }
timed() {  # timed NAME CMD...: run and append "name<TAB>seconds" to meta/timings.tsv
  local name=$1 t0; shift; t0=$(date +%s)
  "$@"
  printf '%s\t%s\n' "$name" "$(( $(date +%s) - t0 ))" >> "$TIMINGS"
}

# --- tools ------------------------------------------------------------------------------------
"$PY" -c 'import numpy, soundfile, soxr, scipy, pyroomacoustics' 2>/dev/null || {
  echo "build_corpus.sh: $PY lacks numpy/soundfile/soxr/scipy/pyroomacoustics; pip install them" \
       "(or pip install -e '.[train]') or set PYTHON=/path/to/python" >&2; exit 1; }
APT_UPDATED=0
apt_update_once() { [[ $APT_UPDATED == 1 ]] || { log "apt-get update"; apt-get update -qq; APT_UPDATED=1; }; }
for tool in ffmpeg unzip; do
  command -v "$tool" >/dev/null || { apt_update_once; log "installing $tool"; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$tool" >/dev/null; }
done
printf 'step\tseconds\n' > "$TIMINGS"
BUILD="$PY $HERE/corpus_build.py"
COMMON=(--tier "$TIER" --seed "$SEED" --jobs "$JOBS")

# --- fetch + extract --------------------------------------------------------------------------
# fetch_list: apt-get download the packages named on stdin ("name<TAB>member patterns" lines) that
# are not yet cached, then extract each once.
fetch_list() {
  local name members missing=() lines=()
  while IFS=$'\t' read -r name members; do
    lines+=("$name"$'\t'"$members")
    compgen -G "$OUT/cache/debs/${name}_*.deb" >/dev/null || missing+=("$name")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    log "downloading ${missing[*]}"
    # apt-get download writes into the current folder; _apt cannot write to a root-owned cache, so
    # apt falls back to downloading as root (a harmless warning, silenced here).
    (cd "$OUT/cache/debs" && { apt-get download -q "${missing[@]}" 2>/dev/null ||
      { apt_update_once; apt-get download -q "${missing[@]}" 2>&1 | grep -v 'unsandboxed' >&2; }; })
  fi
  local line
  for line in "${lines[@]}"; do
    IFS=$'\t' read -r name members <<< "$line"
    extract "$name" $members
  done
}
# fetch GROUP: the recipe's packages of that group.
fetch() { fetch_list < <("$PY" "$HERE/corpus_sources.py" packages --tier "$TIER" --group "$1"); }

# extract PKG [PATTERN...]: dpkg-deb the package (or only PATTERN members) into cache/raw/PKG.
extract() {
  local name=$1; shift
  local deb dest=$OUT/cache/raw/$name
  deb=$(ls "$OUT/cache/debs/${name}"_*.deb | tail -1)
  [[ -f $dest/.extracted && $(cat "$dest/.extracted") == "$(basename "$deb")" ]] && return 0
  log "extracting $name"
  rm -rf "$dest"; mkdir -p "$dest"
  set -f  # the patterns are for tar, not for the shell
  if [[ $# -gt 0 ]]; then
    dpkg-deb --fsys-tarfile "$deb" | tar x -C "$dest" --wildcards "$@"
  else
    dpkg-deb --fsys-tarfile "$deb" | tar x -C "$dest"
  fi
  set +f
  if [[ $name == 0ad-data ]]; then
    # The audio sits inside a 3.3 GB zip: keep only the voices and ambient beds (about 40 MB).
    local zip=$dest/usr/share/games/0ad/mods/public/public.zip
    unzip -q -o "$zip" 'audio/ambient/*.ogg' 'audio/voice/*.ogg' -d "$dest/0ad"
    rm -f "$zip"
  fi
  basename "$deb" > "$dest/.extracted"
}

# --- the build --------------------------------------------------------------------------------
log "tier $TIER into $OUT (seed $SEED, $JOBS jobs)"
timed fetch_base fetch base
# Train speech first, then held-out speech (so validation can start), then noise and RIRs.
timed speech_train_base $BUILD convert "$OUT" "${COMMON[@]}" --kind speech --split train --group base
timed speech_heldout $BUILD convert "$OUT" "${COMMON[@]}" --kind speech --split heldout
timed noise_train_base $BUILD convert "$OUT" "${COMMON[@]}" --kind noise --split train --group base
timed rir_train $BUILD rirs "$OUT" "${COMMON[@]}" --split train
if [[ $TIER == full ]]; then
  timed fetch_0ad fetch 0ad
  timed convert_0ad $BUILD convert "$OUT" "${COMMON[@]}" --split train --group 0ad
fi
$BUILD synth-noise "$OUT" "${COMMON[@]}"
if [[ $WITH_TTS == 1 ]]; then
  # The engines are programs (installed); the text package is data (downloaded and extracted only).
  read -r -a ENGINES < <("$PY" "$HERE/corpus_tts.py" engines)
  command -v flite >/dev/null && command -v text2wave >/dev/null || { apt_update_once; log "installing ${ENGINES[*]}";
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${ENGINES[@]}" >/dev/null; }
  timed fetch_tts fetch_list < <("$PY" "$HERE/corpus_tts.py" packages)
  timed tts $BUILD tts "$OUT" "${COMMON[@]}"
fi
touch "$OUT/READY_TRAIN"
log "READY_TRAIN: train speech, noise and RIRs are complete"

timed noise_heldout $BUILD convert "$OUT" "${COMMON[@]}" --kind noise --split heldout
timed noise_heldout_synthetic $BUILD synth-heldout-noise "$OUT" "${COMMON[@]}"
timed speech_heldout_nb $BUILD convert "$OUT" "${COMMON[@]}" --kind speech --split heldout_nb
timed rir_heldout $BUILD rirs "$OUT" "${COMMON[@]}" --split heldout
timed rir_real $BUILD real-rirs "$OUT" "${COMMON[@]}"
timed manifest $BUILD manifest "$OUT" "${COMMON[@]}"
printf 'total\t%s\n' "$(( $(date +%s) - T_START ))" >> "$TIMINGS"
touch "$OUT/READY_ALL"
log "READY_ALL in $(( $(date +%s) - T_START )) s; disk: $(du -sh "$OUT" | cut -f1) (of which cache $(du -sh "$OUT/cache" | cut -f1))"
