#!/usr/bin/env bash
# Fairness and shared-limit benchmark (release build): the shipped
# `skymailing worker` on PostgreSQL, sending into a recording SMTP server.
# 1. While user A's BIG-recipient mailing (default 100,000) sends at a relay
#    limit (--rate-limit RELAY_LIMIT, default 200/s), user B starts five
#    one-recipient mailings: each one's lag from its start to its arrival.
# 2. Three workers with --rate-limit 100 on one database, then one alone:
#    messages per second over a 10 s window.
# Needs PostgreSQL: DATABASE_URL (a superuser URL; the benchmark creates and
# drops its own databases), else postgres://postgres@127.0.0.1:5432/postgres.
# Last line: fairness: small_run_lag_ms_max=N small_run_lag_ms_median=N big_run=N relay_limit=N/s three_workers=N/s one_worker=N/s limit=100/s
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
# SHORT=1 (what the test suite runs so that this script cannot rot): a debug
# build, a big mailing of 2,000, rates counted over 2 s; its figures mean nothing.
if [ "${SHORT:-}" = 1 ]; then
  export BIG="${BIG:-2000}" WINDOW_SECS="${WINDOW_SECS:-2}"
  profile=debug; build=()
else
  profile=release; build=(--release)
fi
cargo build "${build[@]}" --quiet -p skymailing-server --bin skymailing
cargo build "${build[@]}" --quiet -p skymailing-bench --bin bench-fairness
exec "target/$profile/bench-fairness"
