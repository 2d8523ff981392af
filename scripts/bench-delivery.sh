#!/usr/bin/env bash
# Delivery benchmark (release build). Installs Postfix's smtp-sink/smtp-source
# from Debian's packages if missing, then runs skymailing-bench's bench-delivery:
# the engine (the shipped `skymailing worker`) sends a RECIPIENTS-recipient mailing (default
# 50,000, 4 KB messages, 16 connections) from PostgreSQL into smtp-sink, and
# smtp-source -d -s 16 sends as many 4 KB messages into the same sink.
# Needs PostgreSQL: DATABASE_URL (a superuser URL; the benchmark creates and
# drops its own database), else postgres://postgres@127.0.0.1:5432/postgres.
# Last line: delivery: ours=N msg/s smtp_source=N msg/s ratio=R peak_rss_mb=N start_latency_p99_ms=N
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v smtp-sink >/dev/null || ! command -v smtp-source >/dev/null; then
  export PATH="$PATH:/usr/sbin"
fi
if ! command -v smtp-sink >/dev/null || ! command -v smtp-source >/dev/null; then
  echo "installing postfix (for smtp-sink and smtp-source)..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
# SHORT=1 (what the test suite runs so that this script cannot rot): a debug
# build, 2,000 recipients, 200 signed, 3 latency probes; its figures mean nothing.
if [ "${SHORT:-}" = 1 ]; then
  export RECIPIENTS="${RECIPIENTS:-2000}" DKIM_RECIPIENTS="${DKIM_RECIPIENTS:-200}" LATENCY_PROBES="${LATENCY_PROBES:-3}"
  profile=debug; build=()
else
  profile=release; build=(--release)
fi
cargo build "${build[@]}" --quiet -p skymailing-server --bin skymailing
cargo build "${build[@]}" --quiet -p skymailing-bench --bin bench-delivery
exec "target/$profile/bench-delivery"
