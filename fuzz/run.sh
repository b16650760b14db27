#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (SECONDS_PER_TARGET, default 180) from its seed
# corpus, on the nightly toolchain, and prints the executions and any crash. Seeds stay in
# fuzz/corpus/<target>; what a run finds goes to a scratch corpus, crashes to
# fuzz/artifacts/<target>/ (turn each into a regression test in the normal suite).
#
#   bash fuzz/run.sh                      # every target, 3 minutes each
#   SECONDS_PER_TARGET=30 bash fuzz/run.sh rules_file xfcc_header
set -euo pipefail
cd "$(dirname "$0")"
seconds=${SECONDS_PER_TARGET:-180}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build -O >/dev/null
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
printf '%-22s %14s %10s %8s  %s\n' target executions exec/s corpus crashes
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target" "artifacts/$target"
  cp corpus/"$target"/* "$scratch/$target/" 2>/dev/null || true
  log="$scratch/$target.log"
  status=0
  cargo +nightly fuzz run -O "$target" "$scratch/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log")
  corpus=$(ls "$scratch/$target" | wc -l)
  crashes=$(ls "artifacts/$target" | wc -l)
  printf '%-22s %14s %10s %8s  %s\n' "$target" "${runs:-?}" "${rate:-?}" "$corpus" "$crashes"
  if [ "$status" -ne 0 ]; then
    echo "  $target stopped with status $status; the end of its log:"; tail -30 "$log" | sed 's/^/  /'
  fi
done
