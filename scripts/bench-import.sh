#!/usr/bin/env bash
# Import benchmark (release build): a CSV file of 100,000 clients (or $1 rows)
# imported into an empty account through the use case, then again unchanged,
# on SQLite and PostgreSQL. Needs PostgreSQL: DATABASE_URL (a superuser URL;
# the benchmark creates and drops its own database), else
# postgres://postgres@127.0.0.1:5432/postgres.
# Last line: import: rows=N sqlite_ms=N sqlite_again_ms=N pg_ms=N pg_again_ms=N
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
cargo run --release --quiet -p skymailing-bench --bin bench-import -- "${1:-100000}"
