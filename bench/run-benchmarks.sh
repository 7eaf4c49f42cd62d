#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/run-benchmarks.sh [BUILD_DIR]: runs every benchmark of bench/ against
# BUILD_DIR/helper/fleetbox-helper (default: ./build), then prints their
# figures next to the Go helper's (docs/performance.md explains them).
#
#   BENCH_QUICK=1   fewer round trips and runs (a smoke run, not figures)
#
# bench-boot-overhead needs root and the cloud-hypervisor test fixtures; it
# says why when it skips. Nothing here leaves loopback or Unix sockets,
# except that benchmark, which runs inside a network namespace it creates.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=$(realpath "${1:-build}")
BENCH="$BUILD_DIR/bench"
LOG=$(mktemp -t holder-bench-XXXXXX.log)
trap 'rm -f "$LOG"' EXIT

for b in bench-status bench-throughput bench-startup bench-rss bench-parent-death bench-boot-overhead; do
  if [ ! -x "$BENCH/$b" ]; then
    echo "run-benchmarks: $BENCH/$b is missing: build first (ninja -C $BUILD_DIR)" >&2
    exit 1
  fi
done

if [ -n "${BENCH_QUICK:-}" ]; then
  quick=(2000 "20 2" 20 "" 5 "2 1")
else
  quick=("" "" "" "" "" "")
fi

run() {
  local name=$1 args=$2
  echo "== $name $args"
  # shellcheck disable=SC2086
  if ! "$BENCH/$name" --build-dir "$BUILD_DIR" $args | tee -a "$LOG" | grep -v '^RESULT '; then
    echo "run-benchmarks: $name failed" >&2
    echo "RESULT ${name}_failed 1 run" >> "$LOG"
  fi
  echo
}

echo "holder benchmarks: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"
echo
run bench-status "${quick[0]}"
run bench-throughput "${quick[1]}"
run bench-startup "${quick[2]}"
run bench-rss "${quick[3]}"
run bench-parent-death "${quick[4]}"
run bench-boot-overhead "${quick[5]}"

# key | what | Go figure | unit | better when (lower|higher)
awk '
  BEGIN {
    n = 0
    row("status_p50",           "status round trip, p50",               83,    "us",    "lower")
    row("status_p99",           "status round trip, p99",               163,   "us",    "lower")
    row("throughput_rps",       "status, 200 concurrent clients",       39500, "req/s", "higher")
    row("throughput_p50",       "  latency under that load, p50",       "",    "us",    "lower")
    row("throughput_p99",       "  latency under that load, p99",       "",    "us",    "lower")
    row("throughput_cpu_per_request", "  helper CPU per request",     "",    "us",    "lower")
    row("startup_ready_p50",    "start: exec to socket ready, p50",     2.2,   "ms",    "lower")
    row("startup_status_p50",   "start: exec to first reply, p50",      "",    "ms",    "lower")
    row("rss_idle",             "RSS idle, 1 member",                   4,     "MiB",   "lower")
    row("rss_anon_idle",        "  of which the helper heap (anon)",   "",    "MiB",   "lower")
    row("rss_64",               "RSS, 64 members booted",               10,    "MiB",   "lower")
    row("hwm_flood",            "peak RSS fed 20 x 10 MiB lines",       113,   "MiB",   "lower")
    row("parent_death_bind_mean",  "parent SIGKILL noticed, mean",      500,   "ms",    "lower")
    row("parent_death_watch_mean", "  parent watch alone, mean",        "",    "ms",    "lower")
    row("boot_seq_overhead_p50", "helper overhead per boot, p50",       "",    "ms",    "lower")
    row("boot_seq_overhead_max", "  max",                               "",    "ms",    "lower")
    row("boot_seq_spawn_p50",   "  request to VMM spawned, p50",        "",    "ms",    "lower")
    row("boot_con_overhead_p50", "  3 boots at once, p50",              "",    "ms",    "lower")
    row("boot_con_overhead_max", "  3 boots at once, max",              "",    "ms",    "lower")
    row("boot_con_helper_cpu",  "  helper CPU while 3 guests boot",     "",    "%",     "lower")
  }
  function row(key, what, go, unit, better) {
    keys[n] = key; whats[key] = what; gos[key] = go; units[key] = unit; betters[key] = better; n++
  }
  $1 == "RESULT" { value[$2] = $3 }
  END {
    printf "%-38s %12s %12s %12s  %s\n", "figure", "holder", "Go helper", "target (2x)", "verdict"
    for (i = 0; i < n; i++) {
      k = keys[i]
      v = (k in value) ? sprintf("%.1f %s", value[k], units[k]) : "skipped"
      g = (gos[k] != "") ? sprintf("%g %s", gos[k], units[k]) : "-"
      t = ""; verdict = ""
      if (gos[k] != "") {
        target = (betters[k] == "lower") ? gos[k] / 2 : gos[k] * 2
        t = sprintf("%g %s", target, units[k])
        if (k in value) {
          if (betters[k] == "lower")
            verdict = (value[k] <= target) ? "meets target" : (value[k] <= gos[k]) ? "beats Go" : "SLOWER than Go"
          else
            verdict = (value[k] >= target) ? "meets target" : (value[k] >= gos[k]) ? "beats Go" : "SLOWER than Go"
        }
      }
      printf "%-38s %12s %12s %12s  %s\n", whats[k], v, g, t, verdict
    }
    for (k in value)
      if (k ~ /_failures$/ && value[k] != 0)
        printf "FAILED REPLIES: %s = %d\n", k, value[k]
    for (k in value)
      if (k ~ /_failed$/)
        printf "BENCHMARK FAILED: %s\n", k
  }
' "$LOG"
