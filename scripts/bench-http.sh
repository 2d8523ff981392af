#!/usr/bin/env bash
# HTTP serving benchmark, against the server's own ceiling in the same run.
#
# For each store (SQLite, then PostgreSQL) it starts the shipped server (release
# build; outbox mail, engine on), makes an account with CLIENTS clients
# (default 10,000, imported as one CSV), a message, a mailing that has run,
# three published posts, and loads with wrk (2 threads, 32 connections,
# DURATION seconds each, default 10):
#   healthz      GET /healthz                    the server's ceiling: no database, no template
#   css          GET /static/app.css             a static file
#   home         GET /                           home page: live statistics and three posts
#   stats        GET /api/v1/stats               public JSON
#   clients      GET /api/v1/clients?per_page=50 signed-in JSON list (bearer token)
#   clients_page GET /clients                    signed-in HTML list (session cookie)
#   mailings_page GET /mailings                  signed-in HTML list
#   run_page     GET /log/ID                     a run's page with its deliveries
# wrk and the server share this machine's cores, so compare the figures of one
# run with each other (the ratios to healthz), not with another machine's.
# req/s counts 2xx answers only (wrk's "Non-2xx or 3xx" are taken off); p99 is
# in milliseconds, the worst p99 of the database-backed routes.
#
# SHORT=1 (what the test suite runs so that this script cannot rot): a debug
# build, 200 clients, 1 s per route; its figures mean nothing.
# PostgreSQL: DATABASE_URL (a superuser URL; a database skymailing_bench_http is
# created and dropped), else postgres://postgres@127.0.0.1:5432/postgres; STORES
# chooses (default "sqlite pg").
# Last lines, one per store:
# http: store=sqlite|pg healthz=N/s home=N/s clients=N/s clients_page=N/s home_ratio=R clients_ratio=R clients_page_ratio=R p99_ms=N
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SHORT:-}" = 1 ]; then
  DURATION="${DURATION:-1}"; CLIENTS="${CLIENTS:-200}"; profile=debug; build=()
else
  DURATION="${DURATION:-10}"; CLIENTS="${CLIENTS:-10000}"; profile=release; build=(--release)
fi
STORES="${STORES:-sqlite pg}"
# BIN: an already built binary to measure instead (an earlier build, to compare).
if [ -z "${BIN:-}" ]; then cargo build "${build[@]}" --quiet -p skymailing-server; fi
bin="${BIN:-target/$profile/skymailing}"

DB_NAME=skymailing_bench_http
. scripts/bench-common.sh

lines=()
bench_store() { # sqlite|pg
  local store="$1"
  bench_start "$store"
  bench_account
  local json='content-type: application/json' i
  for i in 1 2 3; do
    curl -sf -X POST "$api/blog/posts" -H "$json" -H "authorization: Bearer $admin" \
      -d "{\"title\":\"Post $i\",\"body\":\"The text of post $i.\",\"image\":null,\"published\":true}" >/dev/null
  done
  bench_import "$CLIENTS"
  # A mailing to a few clients that runs now, for the run page.
  local msg mailing run
  msg=$(curl -sf -X POST "$api/messages" -H "$json" -H "authorization: Bearer $bearer" \
    -d '{"subject":"Hello {{ name }}","body_text":"Dear {{ name }}","body_html":null}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  mailing=$(curl -sf -X POST "$api/mailings" -H "$json" -H "authorization: Bearer $bearer" \
    -d "{\"name\":\"VIP\",\"message_id\":$msg,\"tags\":[\"vip\"],\"start_at\":\"$(date -u +%FT%TZ)\",\"periodicity\":\"once\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  for _ in $(seq 600); do
    run=$(curl -sf "$api/mailings/$mailing/runs" -H "authorization: Bearer $bearer" |
      python3 -c 'import json,sys; r=json.load(sys.stdin)["items"]; print(r[0]["id"] if r and r[0]["finished_at"] else "")')
    [ -n "$run" ] && break
    sleep 0.1
  done

  local cookie="cookie: sky_session=$bearer"
  bench_load "$store" healthz "$base/healthz"
  bench_load "$store" css "$base/static/app.css"
  bench_load "$store" home "$base/"
  bench_load "$store" stats "$api/stats"
  bench_load "$store" clients "$api/clients?per_page=50" -H "authorization: Bearer $bearer"
  bench_load "$store" clients_page "$base/clients" -H "$cookie"
  bench_load "$store" mailings_page "$base/mailings" -H "$cookie"
  bench_load "$store" run_page "$base/log/$run" -H "$cookie"
  bench_stop "$store"
  local worst
  worst=$(printf '%s\n' "${p99[home]}" "${p99[stats]}" "${p99[clients]}" "${p99[clients_page]}" "${p99[mailings_page]}" "${p99[run_page]}" | sort -g | tail -1)
  lines+=("http: store=$store healthz=${rps[healthz]}/s home=${rps[home]}/s clients=${rps[clients]}/s clients_page=${rps[clients_page]}/s home_ratio=$(ratio "${rps[home]}") clients_ratio=$(ratio "${rps[clients]}") clients_page_ratio=$(ratio "${rps[clients_page]}") p99_ms=$worst")
  echo "$store also: css=${rps[css]}/s stats=${rps[stats]}/s mailings_page=${rps[mailings_page]}/s run_page=${rps[run_page]}/s ratios css=$(ratio "${rps[css]}") stats=$(ratio "${rps[stats]}") mailings_page=$(ratio "${rps[mailings_page]}") run_page=$(ratio "${rps[run_page]}")" >&2
}
for s in $STORES; do bench_store "$s"; done
printf '%s\n' "${lines[@]}"
