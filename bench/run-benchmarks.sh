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

for b in bench-status bench-throughput bench-startup bench-rss bench-parent-death bench-boot-overhead \
         bench-bound-close bench-pss-helpers; do
  if [ ! -x "$BENCH/$b" ]; then
    echo "run-benchmarks: $BENCH/$b is missing: build first (ninja -C $BUILD_DIR)" >&2
    exit 1
  fi
done

if [ -n "${BENCH_QUICK:-}" ]; then
  quick=(2000 "20 2" 20 "" 5 "2 1" 20 4)
else
  quick=("" "" "" "" "" "" "" "")
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
run bench-bound-close "${quick[6]}"
run bench-pss-helpers "${quick[7]}"

# The Go helper's figures were measured side by side on these machines
# (fake backend); the target is the one an issue names, else twice as good
# as Go.
# key | what | Go figure | unit | better when (lower|higher) | target
awk '
  BEGIN {
    n = 0
    row("status_p50",           "status round trip, p50",               74.5,  "us",    "lower", 37)
    row("status_p99",           "status round trip, p99",               148,   "us",    "lower", 74)
    row("throughput_rps",       "status, 200 concurrent clients",       51500, "req/s", "higher", 103000)
    row("throughput_p50",       "  latency under that load, p50",       "",    "us",    "lower", "")
    row("throughput_p99",       "  latency under that load, p99",       "",    "us",    "lower", "")
    row("throughput_cpu_per_request", "  helper CPU per request",     "",    "us",    "lower", "")
    row("startup_pidfile_p50",  "start: exec to socket and pidfile, p50", 2.2, "ms",    "lower", 2)
    row("startup_status_p50",   "start: exec to first reply, p50",      "",    "ms",    "lower", "")
    row("rss_idle",             "RSS idle, 1 member",                   4.1,   "MiB",   "lower", 6)
    row("pss_idle",             "PSS idle, 1 member",                   2.6,   "MiB",   "lower", 2.5)
    row("rss_anon_idle",        "  of which the helper heap (anon)",   "",    "MiB",   "lower", "")
    row("pss_per_additional_helper", "PSS per additional helper",       "",    "MiB",   "lower", "")
    row("rss_64",               "RSS, 64 members booted",               10,    "MiB",   "lower", 5)
    row("hwm_flood",            "peak RSS fed 20 x 10 MiB lines",       113,   "MiB",   "lower", 56.5)
    row("bound_close_p50",      "control connection closed to exit, p50", 1.2, "ms",    "lower", 1)
    row("parent_death_bind_mean",  "parent SIGKILL noticed, mean",      500,   "ms",    "lower", 250)
    row("parent_death_watch_mean", "  parent watch alone, mean",        "",    "ms",    "lower", "")
    row("boot_seq_overhead_p50", "helper overhead per boot, p50",       "",    "ms",    "lower", 10)
    row("boot_seq_overhead_max", "  max",                               "",    "ms",    "lower", 50)
    row("boot_seq_spawn_p50",   "  request to VMM spawned, p50",        "",    "ms",    "lower", 5)
    row("boot_con_overhead_p50", "  3 boots at once, p50",              "",    "ms",    "lower", 10)
    row("boot_con_overhead_max", "  3 boots at once, max",              "",    "ms",    "lower", 50)
    row("boot_con_helper_cpu",  "  helper CPU while 3 guests boot",     "",    "%",     "lower", "")
  }
  function row(key, what, go, unit, better, target) {
    keys[n] = key; whats[key] = what; gos[key] = go; units[key] = unit; betters[key] = better
    targets[key] = target; n++
  }
  $1 == "RESULT" { value[$2] = $3 }
  END {
    printf "%-40s %12s %12s %12s  %s\n", "figure", "holder", "Go helper", "target", "verdict"
    for (i = 0; i < n; i++) {
      k = keys[i]
      v = (k in value) ? sprintf("%.1f %s", value[k], units[k]) : "skipped"
      g = (gos[k] != "") ? sprintf("%g %s", gos[k], units[k]) : "-"
      t = ""; verdict = ""
      if (targets[k] != "") {
        target = targets[k]
        t = sprintf("%g %s", target, units[k])
        if (k in value) {
          if (betters[k] == "lower")
            verdict = (value[k] <= target) ? "meets target" : (gos[k] != "" && value[k] <= gos[k]) ? "beats Go" : "MISSES target"
          else
            verdict = (value[k] >= target) ? "meets target" : (gos[k] != "" && value[k] >= gos[k]) ? "beats Go" : "MISSES target"
        }
      }
      printf "%-40s %12s %12s %12s  %s\n", whats[k], v, g, t, verdict
    }
    for (k in value)
      if (k ~ /_failures$/ && value[k] != 0)
        printf "FAILED REPLIES: %s = %d\n", k, value[k]
    for (k in value)
      if (k ~ /_failed$/)
        printf "BENCHMARK FAILED: %s\n", k
  }
' "$LOG"
