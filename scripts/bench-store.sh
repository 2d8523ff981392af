#!/usr/bin/env bash
# Store benchmark (release build): claim+complete rate of 100,000 deliveries in
# batches of 500 on PostgreSQL and SQLite, and the time to materialise a
# 100,000-recipient run on each. Needs PostgreSQL: DATABASE_URL (a superuser
# URL; the benchmark creates and drops its own database `skymailing_bench`),
# else postgres://postgres@127.0.0.1:5432/postgres.
# Last line: store: pg=N/s sqlite=N/s pg_materialise_100k_ms=N
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
cargo run --release --quiet -p skymailing-bench --bin bench-store
