#!/usr/bin/env bash
# Run every browser module N times in a row (default 10) while a CPU hog keeps both cores busy, to show the
# browser tests hold on a loaded machine (issue 28). Prints each round's result and time and the total; exits
# non-zero when any round failed.
#
#   bash tests/stress_browser.sh        # ten rounds
#   bash tests/stress_browser.sh 2      # two rounds
#   HOGS=4 bash tests/stress_browser.sh # four `yes` processes instead of two
#
# Each round's pytest output goes to test-artifacts/stress/round-NN.log.
set -uo pipefail

rounds="${1:-10}"
hogs="${HOGS:-2}"
cd "$(dirname "$0")/.."
logs="test-artifacts/stress"
mkdir -p "$logs"

hog_pids=()
stop_hogs() {
    # Only the processes this script started, by their PIDs.
    for pid in "${hog_pids[@]}"; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    hog_pids=()
}
trap stop_hogs EXIT
trap 'exit 130' INT TERM

for _ in $(seq "$hogs"); do
    yes >/dev/null &
    hog_pids+=("$!")
done
echo "stress: $rounds round(s) of every browser module; CPU hog PIDs ${hog_pids[*]}"

failed=0
started=$SECONDS
for round in $(seq "$rounds"); do
    round_started=$SECONDS
    log="$logs/round-$(printf '%02d' "$round").log"
    if python3 -m pytest -q -p no:cacheprovider tests/*_browser.py >"$log" 2>&1; then
        verdict="passed"
    else
        verdict="FAILED"
        failed=$((failed + 1))
    fi
    summary="$(tail -n 1 "$log")"
    echo "round $round/$rounds: $verdict in $((SECONDS - round_started)) s ($summary; log $log)"
    if [ "$verdict" = "FAILED" ]; then
        grep -E '^(FAILED|ERROR) ' "$log" | sed 's/^/    /'
    fi
done
stop_hogs

total=$((SECONDS - started))
echo "stress: $((rounds - failed))/$rounds round(s) passed in ${total} s ($((total / 60)) min $((total % 60)) s)"
[ "$failed" -eq 0 ]
