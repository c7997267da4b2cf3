#!/usr/bin/env bash
# Runs the whole loom suite (docs/loom.md) and prints each model's executions and time.
#
#   loom-tests/run.sh                 # the suite, as CI runs it
#   loom-tests/run.sh model2          # only tests whose name contains "model2"
#   GORT_MUTATE=no_t3_recheck loom-tests/run.sh model2a
#                                     # a mutation check: the model must FAIL
#
# The full log goes to $CARGO_TARGET_DIR/loom.log (shown on failure).
# Budget: the whole suite in at most 10 minutes on a 2-core machine (measured in docs/loom.md).
set -uo pipefail
cd "$(dirname "$0")/.."

flags="--cfg loom -C debug_assertions"
target=target/loom
if [[ -n "${GORT_MUTATE:-}" ]]; then
    flags="$flags --cfg gort_mutate=\"$GORT_MUTATE\""
    target=target/loom-mutate
fi
mkdir -p "$target"
log="$target/loom.log"

start=$(date +%s)
RUSTFLAGS="$flags" LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}" CARGO_TARGET_DIR="$target" \
    cargo test -p loom-tests --release -- --nocapture "$@" >"$log" 2>&1
rc=$?
grep -E '^loom model |^test result' "$log" | sed 's/^/  /'
if [[ $rc -ne 0 ]]; then
    echo "loom suite FAILED (exit $rc); first lines of each failure:"
    grep -E -A3 "panicked at|deadlock" "$log" | grep -v '^\s*[0-9]*: \|^\s*at ' | head -40
fi
echo "loom suite: $(($(date +%s) - start)) s total (build included), exit $rc"
exit "$rc"
