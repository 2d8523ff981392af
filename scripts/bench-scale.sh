#!/usr/bin/env bash
# Large-account benchmark: one account of CLIENTS clients (default 100,000,
# imported as one CSV) on SQLite and on PostgreSQL, the shipped server (release
# build), wrk with WRK_CONNECTIONS connections (default 8) for DURATION seconds
# (default 5) on each of:
#   healthz      GET /healthz                                 the server's ceiling
#   home         GET /                                        the home page (unaffected by the big account?)
#   list_first   GET /api/v1/clients?per_page=50              first page
#   list_middle  GET /api/v1/clients?per_page=50&page=MID     a page in the middle
#   list_last    GET /api/v1/clients?per_page=50&page=LAST    the last page
#   page_last    GET /clients?page=LAST                       the HTML list's last page
#   tag_last     GET /api/v1/clients?tag=vip&page=LAST        the last page of a tag (a tenth of the clients)
#   search       GET /api/v1/clients?q=Client%204242          a search (a dozen matches)
#   search_page  GET /clients?q=c4242%40                      the HTML list searched by address
# Then (PostgreSQL) the time to materialise a CLIENTS-recipient run, from the
# store benchmark's first step (`bench-store` with MATERIALISE_ONLY=1).
# SHORT=1 (what the test suite runs so that this script cannot rot): a debug
# build, 2,000 clients, 1 s per route; its figures mean nothing.
# PostgreSQL: DATABASE_URL (a superuser URL; databases skymailing_bench_scale and
# skymailing_bench are created and dropped), else
# postgres://postgres@127.0.0.1:5432/postgres.
# Last line:
# scale: clients=N sqlite_list_p99_ms=N sqlite_search_p99_ms=N sqlite_home_ratio=R pg_list_p99_ms=N pg_search_p99_ms=N pg_home_ratio=R pg_materialise_ms=N
# (list: the worst p99 of the list routes at any of the pages; search: the
# worse of the two searches; home_ratio: the home page over healthz.)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SHORT:-}" = 1 ]; then
  DURATION="${DURATION:-1}"; CLIENTS="${CLIENTS:-2000}"; profile=debug; build=()
else
  DURATION="${DURATION:-5}"; CLIENTS="${CLIENTS:-100000}"; profile=release; build=(--release)
fi
WRK_CONNECTIONS="${WRK_CONNECTIONS:-8}"
# BIN: an already built server to measure instead (bench-store is always built).
if [ -z "${BIN:-}" ]; then cargo build "${build[@]}" --quiet -p skymailing-server --bin skymailing; fi
cargo build "${build[@]}" --quiet -p skymailing-bench --bin bench-store
bin="${BIN:-target/$profile/skymailing}"
DB_NAME=skymailing_bench_scale
. scripts/bench-common.sh

fields=()
bench_store() { # sqlite|pg
  local store="$1" started
  bench_start "$store"
  bench_account
  started=$(date +%s%N)
  bench_import "$CLIENTS"
  echo "$store: $CLIENTS clients imported in $(( ($(date +%s%N) - started) / 1000000 )) ms" >&2
  local auth="authorization: Bearer $bearer" cookie="cookie: sky_session=$bearer"
  local last=$(( (CLIENTS + 49) / 50 )) page_last=$(( (CLIENTS + 24) / 25 )) tag_last=$(( (CLIENTS / 10 + 49) / 50 ))
  bench_load "$store" healthz "$base/healthz"
  bench_load "$store" home "$base/"
  bench_load "$store" list_first "$api/clients?per_page=50" -H "$auth"
  bench_load "$store" list_middle "$api/clients?per_page=50&page=$(( last / 2 ))" -H "$auth"
  bench_load "$store" list_last "$api/clients?per_page=50&page=$last" -H "$auth"
  bench_load "$store" page_last "$base/clients?page=$page_last" -H "$cookie"
  bench_load "$store" tag_last "$api/clients?per_page=50&tag=vip&page=$tag_last" -H "$auth"
  bench_load "$store" search "$api/clients?per_page=50&q=Client%204242" -H "$auth"
  bench_load "$store" search_page "$base/clients?q=c4242%40" -H "$cookie"
  # Each list answer really is a full page of clients (not an error or an empty page).
  curl -sf "$api/clients?per_page=50&page=$last" -H "$auth" | python3 -c "
import json, sys
p = json.load(sys.stdin)
assert p['total'] == $CLIENTS and len(p['items']) == $CLIENTS - ($last - 1) * 50, p
"
  bench_stop "$store"
  local worst search
  worst=$(printf '%s\n' "${p99[list_first]}" "${p99[list_middle]}" "${p99[list_last]}" "${p99[page_last]}" "${p99[tag_last]}" | sort -g | tail -1)
  search=$(printf '%s\n' "${p99[search]}" "${p99[search_page]}" | sort -g | tail -1)
  fields+=("${store}_list_p99_ms=$worst" "${store}_search_p99_ms=$search" "${store}_home_ratio=$(ratio "${rps[home]}")")
}
for s in sqlite pg; do bench_store "$s"; done
materialise=$(RECIPIENTS="$CLIENTS" MATERIALISE_ONLY=1 "target/$profile/bench-store" | tail -1)
echo "$materialise" >&2
echo "scale: clients=$CLIENTS ${fields[*]} pg_materialise_ms=$(sed -n 's/.*pg_materialise_ms=\([0-9]*\).*/\1/p' <<<"$materialise")"
