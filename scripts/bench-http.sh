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
if ! command -v wrk >/dev/null; then
  echo "installing wrk..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
fi
# BIN: an already built binary to measure instead (an earlier build, to compare).
if [ -z "${BIN:-}" ]; then cargo build "${build[@]}" --quiet -p skymailing-server; fi
bin="${BIN:-target/$profile/skymailing}"
pg_admin="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_url="${pg_admin%/*}/skymailing_bench_http"

lines=()
bench_store() { # sqlite|pg
  local store="$1" dir port base db server
  dir="$(mktemp -d)"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  base="http://127.0.0.1:$port"
  if [ "$store" = pg ]; then
    psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS skymailing_bench_http" -c "CREATE DATABASE skymailing_bench_http" >/dev/null
    db="$pg_url"
  else
    db="sqlite://$dir/bench.db"
  fi
  SKYMAILING_ADMIN_PASSWORD="admin password" "$bin" create-admin \
    --email admin@example.com --database-url "$db" >/dev/null
  RUST_LOG=warn SKYMAILING_AUTH_RATE_LIMIT=100000 "$bin" \
    --bind "127.0.0.1:$port" --database-url "$db" --mail-url "outbox:$dir/outbox" \
    2>"$dir/server.log" &
  server=$!
  trap "kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf '$dir'" EXIT
  for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

  local api="$base/api/v1" json='content-type: application/json' token bearer admin i
  curl -sf -X POST "$api/auth/register" -H "$json" \
    -d '{"email":"bench@example.com","password":"bench password","name":"Bench"}' >/dev/null
  for _ in $(seq 50); do
    token=$(grep -hos 'verify?token=[0-9a-f]*' "$dir"/outbox/*.eml | tail -1 | cut -d= -f2) || true
    [ -n "$token" ] && break
    sleep 0.1
  done
  curl -sf -X POST "$api/auth/verify" -H "$json" -d "{\"token\":\"$token\"}" >/dev/null
  bearer=$(curl -sf -X POST "$api/auth/login" -H "$json" \
    -d '{"email":"bench@example.com","password":"bench password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  admin=$(curl -sf -X POST "$api/auth/login" -H "$json" \
    -d '{"email":"admin@example.com","password":"admin password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  for i in 1 2 3; do
    curl -sf -X POST "$api/blog/posts" -H "$json" -H "authorization: Bearer $admin" \
      -d "{\"title\":\"Post $i\",\"body\":\"The text of post $i.\",\"image\":null,\"published\":true}" >/dev/null
  done
  python3 -c "
import sys
print('email,full_name,tags')
for i in range(1, $CLIENTS + 1):
    print(f'c{i}@client.test,Client {i},' + ('vip' if i % 10 == 0 else ''))
" >"$dir/clients.csv"
  curl -sf -X POST "$api/clients/import" -H 'content-type: text/csv' -H "authorization: Bearer $bearer" \
    --data-binary "@$dir/clients.csv" >/dev/null
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

  local -A rps p99
  run() { # name, url, extra wrk args...
    local name="$1" url="$2" out non2xx
    shift 2
    out=$(wrk -t2 -c32 -d"${DURATION}s" --latency "$@" "$url")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    # Successful answers per second: all requests less the failed ones, over the run.
    rps[$name]=$(awk -v bad="${non2xx:-0}" '/requests in/ {t=$4; sub(/s,?$/, "", t); printf "%d", ($1 - bad) / t}' <<<"$out")
    # wrk prints 812.00us, 8.05ms or 1.02s: all in milliseconds.
    p99[$name]=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}' <<<"$out")
    echo "$store $name: ${rps[$name]} req/s, p99 ${p99[$name]} ms${non2xx:+, $non2xx failed answers not counted}" >&2
  }
  local cookie="cookie: sky_session=$bearer"
  run healthz "$base/healthz"
  run css "$base/static/app.css"
  run home "$base/"
  run stats "$api/stats"
  run clients "$api/clients?per_page=50" -H "authorization: Bearer $bearer"
  run clients_page "$base/clients" -H "$cookie"
  run mailings_page "$base/mailings" -H "$cookie"
  run run_page "$base/log/$run" -H "$cookie"
  kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true
  trap - EXIT
  rm -rf "$dir"
  [ "$store" = pg ] && psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS skymailing_bench_http" >/dev/null
  local worst
  worst=$(printf '%s\n' "${p99[home]}" "${p99[stats]}" "${p99[clients]}" "${p99[clients_page]}" "${p99[mailings_page]}" "${p99[run_page]}" | sort -g | tail -1)
  ratio() { awk -v a="$1" -v b="${rps[healthz]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
  lines+=("http: store=$store healthz=${rps[healthz]}/s home=${rps[home]}/s clients=${rps[clients]}/s clients_page=${rps[clients_page]}/s home_ratio=$(ratio "${rps[home]}") clients_ratio=$(ratio "${rps[clients]}") clients_page_ratio=$(ratio "${rps[clients_page]}") p99_ms=$worst")
  echo "$store also: css=${rps[css]}/s stats=${rps[stats]}/s mailings_page=${rps[mailings_page]}/s run_page=${rps[run_page]}/s ratios css=$(ratio "${rps[css]}") stats=$(ratio "${rps[stats]}") mailings_page=$(ratio "${rps[mailings_page]}") run_page=$(ratio "${rps[run_page]}")" >&2
}
for s in $STORES; do bench_store "$s"; done
printf '%s\n' "${lines[@]}"
