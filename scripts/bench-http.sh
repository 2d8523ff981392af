#!/usr/bin/env bash
# HTTP serving benchmark (release build). Installs wrk from Debian's packages if
# missing, starts the server on a fresh SQLite file (outbox mail, engine on),
# signs a user up through the API with 200 clients, then loads four routes
# with wrk (2 threads, 32 connections, DURATION seconds each, default 10):
#   stats   GET /api/v1/stats             (public JSON, three counts)
#   clients GET /api/v1/clients?per_page=50 (bearer token, one page of 50)
#   home    GET /                          (the home page: stats + 3 of 3 published posts, HTML)
#   clients_page GET /clients               (signed-in HTML list of 25)
# wrk and the server share this machine's cores, so compare the rows of one
# run with each other rather than with another machine.
# req/s counts successful answers only (wrk's "Non-2xx or 3xx" are taken off);
# p99 is in milliseconds whatever unit wrk printed.
# Last line: http: stats=N/s clients=N/s home=N/s clients_page=N/s p99_ms=stats:N,clients:N,home:N,clients_page:N
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10}"
if ! command -v wrk >/dev/null; then
  echo "installing wrk..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --quiet -p skymailing-server
dir="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
SKYMAILING_ADMIN_PASSWORD="admin password" target/release/skymailing create-admin \
  --email admin@example.com --database-url "sqlite://$dir/bench.db" >/dev/null
RUST_LOG=warn SKYMAILING_AUTH_RATE_LIMIT=100000 target/release/skymailing \
  --bind "127.0.0.1:$port" --database-url "sqlite://$dir/bench.db" --mail-url "outbox:$dir/outbox" \
  2>"$dir/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

api="$base/api/v1"
json='content-type: application/json'
curl -sf -X POST "$api/auth/register" -H "$json" \
  -d '{"email":"bench@example.com","password":"bench password","name":"Bench"}' >/dev/null
sleep 0.5
token=$(grep -ho 'verify?token=[0-9a-f]*' "$dir"/outbox/*.eml | tail -1 | cut -d= -f2)
curl -sf -X POST "$api/auth/verify" -H "$json" -d "{\"token\":\"$token\"}" >/dev/null
bearer=$(curl -sf -X POST "$api/auth/login" -H "$json" \
  -d '{"email":"bench@example.com","password":"bench password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
admin=$(curl -sf -X POST "$api/auth/login" -H "$json" \
  -d '{"email":"admin@example.com","password":"admin password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
for i in 1 2 3; do
  curl -sf -X POST "$api/blog/posts" -H "$json" -H "authorization: Bearer $admin" \
    -d "{\"title\":\"Post $i\",\"body\":\"The text of post $i.\",\"image\":null,\"published\":true}" >/dev/null
done
for i in $(seq 200); do
  curl -sf -X POST "$api/clients" -H "$json" -H "authorization: Bearer $bearer" \
    -d "{\"email\":\"c$i@client.test\",\"full_name\":\"Client $i\",\"comment\":\"\"}" >/dev/null
done

run() { # name, url, extra wrk args...
  local name="$1" url="$2"; shift 2
  local out
  out=$(wrk -t2 -c32 -d"${DURATION}s" --latency "$@" "$url")
  local rps p99 non2xx
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  # Successful answers per second: all requests less the failed ones, over the run.
  rps=$(awk -v bad="${non2xx:-0}" '/requests in/ {t=$4; sub(/s,?$/, "", t); printf "%d", ($1 - bad) / t}' <<<"$out")
  # wrk prints 812.00us, 8.05ms or 1.02s: all in milliseconds.
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}' <<<"$out")
  echo "$name: $rps req/s, p99 ${p99} ms${non2xx:+, $non2xx failed answers not counted}" >&2
  eval "rps_$name=$rps p99_$name=$p99"
}
run stats "$api/stats"
run clients "$api/clients?per_page=50" -H "authorization: Bearer $bearer"
run home "$base/"
run clients_page "$base/clients" -H "cookie: sky_session=$bearer"
echo "http: stats=${rps_stats}/s clients=${rps_clients}/s home=${rps_home}/s clients_page=${rps_clients_page}/s p99_ms=stats:${p99_stats},clients:${p99_clients},home:${p99_home},clients_page:${p99_clients_page}"
