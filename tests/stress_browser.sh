#!/usr/bin/env bash
# Run every browser module N times in a row (default 10) while a CPU hog keeps both cores busy, to show the
# browser tests hold on a loaded machine (issue 28). Prints each round's result and time and the total; exits
# non-zero when any round failed.
#
#   bash tests/stress_browser.sh        # ten rounds
#   bash tests/stress_browser.sh 2      # two rounds
#   HOGS=4 bash tests/stress_browser.sh # four `yes` processes instead of two
#   JOBS=2 bash tests/stress_browser.sh # each round runs the modules in two pytest processes at once (more load,
#                                       # a shorter round: the hogs get a smaller share of the cores)
#
# Each round's pytest output goes to test-artifacts/stress/round-NN.log (round-NN-jJ.log with JOBS).
set -uo pipefail

rounds="${1:-10}"
hogs="${HOGS:-2}"
jobs="${JOBS:-1}"
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
echo "stress: $rounds round(s) of every browser module in $jobs job(s); CPU hog PIDs ${hog_pids[*]}"

failed=0
started=$SECONDS
# The modules, largest first, dealt round-robin to the jobs (a longer module file is mostly a longer run).
mapfile -t modules < <(ls -S tests/*_browser.py)
run_round() {  # $1: the round's log prefix; answers 0 when every job passed
    local prefix="$1" job pids=() verdicts=0
    if [ "$jobs" -le 1 ]; then
        python3 -m pytest -q -p no:cacheprovider "${modules[@]}" >"$prefix.log" 2>&1
        return
    fi
    for job in $(seq "$jobs"); do
        local mine=()
        for i in "${!modules[@]}"; do
            if [ $((i % jobs + 1)) -eq "$job" ]; then mine+=("${modules[$i]}"); fi
        done
        python3 -m pytest -q -p no:cacheprovider "${mine[@]}" >"$prefix-j$job.log" 2>&1 &
        pids+=("$!")
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || verdicts=1
    done
    return "$verdicts"
}

for round in $(seq "$rounds"); do
    round_started=$SECONDS
    prefix="$logs/round-$(printf '%02d' "$round")"
    if run_round "$prefix"; then
        verdict="passed"
    else
        verdict="FAILED"
        failed=$((failed + 1))
    fi
    summary="$(for log in "$prefix"*.log; do tail -n 1 "$log"; done | paste -sd ';' -)"
    echo "round $round/$rounds: $verdict in $((SECONDS - round_started)) s ($summary; logs $prefix*.log)"
    if [ "$verdict" = "FAILED" ]; then
        cat "$prefix"*.log | grep -E '^(FAILED|ERROR) ' | sed 's/^/    /'
    fi
done
stop_hogs

total=$((SECONDS - started))
echo "stress: $((rounds - failed))/$rounds round(s) passed in ${total} s ($((total / 60)) min $((total % 60)) s)"
[ "$failed" -eq 0 ]
