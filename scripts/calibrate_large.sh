#!/usr/bin/env bash
# Large-design calibration (issue 17): the built-in Bragg archs at 4 and 8 bits, then chunks of
# Bragg block-space designs between MIN_BOPS and MAX_BOPS, one design at a time (they take
# minutes to hours each on one core). Resumable: runs already in the cache are skipped; after
# every design (built-ins) or chunk (space) the whole cache is exported to OUT, so a stopped
# session keeps what it finished.
#
#   scripts/calibrate_large.sh [CACHE_URL] [FIRST_SEED] [CHUNKS]
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${1:-sqlite:///$PWD/.calibration/large.db}
first=${2:-300}
chunks=${3:-12}
n=${N:-6}
min_bops=${MIN_BOPS:-1e5}
max_bops=${MAX_BOPS:-3e6}
timeout=${TIMEOUT:-14400}
hw=${HWLOOP:-hwloop}
out=${OUT:-surrogates/data/calibration/open-large.parquet}
mkdir -p .calibration
if [ -e "$out" ]; then "$hw" cache import --cache "$cache" "$out"; fi
export_all() { "$hw" cache export --cache "$cache" --flow open --format parquet -o "$out"; }
if [ -z "${SKIP_BUILTINS:-}" ]; then
    for spec in nac-tiny:4 nac-small:4 nac-medium:4 nac-tiny:8 nac-small:8 nac-medium:8 \
        braggnn:4 braggnn:8 nac-base:4 nac-large:4 nac-base:8 nac-large:8; do
        echo "built-in ${spec%%:*} at ${spec##*:} bits"
        "$hw" calibrate --cache "$cache" --arch "${spec%%:*}" --bits "${spec##*:}" --sparsity 0 \
            --timeout "$timeout" --jobs 1 --retry-failed || true
        export_all
    done
fi
for (( i = 0; i < chunks; i++ )); do
    seed=$(( first + i ))
    echo "chunk $i: --space bragg --seed $seed --n $n --min-bops $min_bops --max-bops $max_bops"
    "$hw" calibrate --cache "$cache" --space bragg --n "$n" --bits 4,6,8 --sparsity 0,0.5,0.75 \
        --min-bops "$min_bops" --max-bops "$max_bops" --seed "$seed" --timeout "$timeout" \
        --jobs 1 --retry-failed || true
    export_all
done
