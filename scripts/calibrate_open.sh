#!/usr/bin/env bash
# Grow the committed open-flow calibration set in resumable chunks (the data behind the shipped
# default surrogates). Each chunk is one `hwloop calibrate` batch over a new seed, alternating the
# Bragg block space and the Bragg MLP space by seed (SPACES="jets", or a list of spaces, rotates
# over those instead); after every chunk the whole cache is exported to
# surrogates/data/calibration/open-calibration.parquet, so a session that is stopped keeps what
# it finished.
#
#   scripts/calibrate_open.sh [CACHE_URL] [FIRST_SEED] [CHUNKS]
#
# Re-running it imports the committed export first; runs already in the cache are skipped.
# JOBS sets the parallel syntheses (default 2). OUT names another export (a re-run of the same seeds into a fresh cache, e.g. after the open
# flow started recording more per run, writes there and resumes from it).
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${1:-sqlite:///$PWD/.calibration/cache.db}
first=${2:-10}
chunks=${3:-12}
n=${N:-30}
max_bops=${MAX_BOPS:-2e5}
hw=${HWLOOP:-hwloop}
read -r -a spaces <<< "${SPACES:-bragg bragg:mlp}"
out=${OUT:-surrogates/data/calibration/open-calibration.parquet}
mkdir -p .calibration
if [ -e "$out" ]; then "$hw" cache import --cache "$cache" "$out"; fi
for (( i = 0; i < chunks; i++ )); do
    seed=$(( first + i ))
    space=${spaces[$(( seed % ${#spaces[@]} ))]}
    echo "chunk $i: --space $space --seed $seed --n $n --max-bops $max_bops"
    "$hw" calibrate --cache "$cache" --space "$space" --n "$n" --bits 4,6,8 \
        --sparsity 0,0.5,0.75 --max-bops "$max_bops" --seed "$seed" --timeout 900 --jobs "${JOBS:-2}" || true
    "$hw" cache export --cache "$cache" --flow open --format parquet -o "$out"
done
