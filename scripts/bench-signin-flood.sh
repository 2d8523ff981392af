#!/usr/bin/env bash
# Sign-in flood (release build): what a flood of wrong passwords does to a
# legitimate sign-in and to the server's memory. Starts the server on a fresh
# SQLite file with the per-address limit lifted (so every request reaches
# password hashing, as a flood from rotating addresses would), then runs
# FLOODS floods of wrk (2 threads, 64 connections, DURATION s each) against
# POST /api/v1/auth/login. During each flood it signs in correctly once and
# times it; it reads the server's RSS before, during and after.
# Last line: signin_flood: legit_ms_quiet=N legit_ms_flood=N,N,… legit_status_flood=…
#   rss_mb_before=N rss_mb_during=N,N,… rss_mb_after=N non_2xx_per_s=N (401s and 429s)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10}"
FLOODS="${FLOODS:-3}"
command -v wrk >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet -p skymailing-server
dir="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
SKYMAILING_ADMIN_PASSWORD="correct horse battery" target/release/skymailing create-admin \
  --email ann@example.com --database-url "sqlite://$dir/flood.db" >/dev/null 2>&1
RUST_LOG=error target/release/skymailing --bind "127.0.0.1:$port" --auth-rate-limit 100000000 \
  --database-url "sqlite://$dir/flood.db" --mail-url "outbox:$dir/outbox" 2>"$dir/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

rss() { awk '/VmRSS/ {printf "%d", $2/1024}' "/proc/$server/status"; }
legit() { # prints "ms status"
  curl -s -o /dev/null -w '%{time_total} %{http_code}\n' -X POST "$base/api/v1/auth/login" \
    -H 'content-type: application/json' -d '{"email":"ann@example.com","password":"correct horse battery"}' |
    awk '{printf "%.1f %s", $1*1000, $2}'
}
cat > "$dir/flood.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"email":"ann@example.com","password":"a wrong guess"}'
LUA
legit >/dev/null # warm up
read -r quiet _ <<<"$(legit)"
before=$(rss)
during=() flood_ms=() flood_status=() busy=()
for i in $(seq "$FLOODS"); do
  wrk -t2 -c64 -d"${DURATION}s" -s "$dir/flood.lua" "$base/api/v1/auth/login" >"$dir/wrk$i.txt" &
  wrk_pid=$!
  sleep $((DURATION / 2))
  read -r ms status <<<"$(legit)"
  flood_ms+=("$ms") flood_status+=("$status") during+=("$(rss)")
  wait $wrk_pid
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$dir/wrk$i.txt")
  busy+=("$(( ${non2xx:-0} / DURATION ))")
  echo "flood $i: legit sign-in ${ms} ms (HTTP $status), RSS ${during[-1]} MB, non-2xx ${busy[-1]}/s" >&2
done
sleep 2
after=$(rss)
join() { local IFS=,; echo "$*"; }
echo "signin_flood: legit_ms_quiet=$quiet legit_ms_flood=$(join "${flood_ms[@]}") legit_status_flood=$(join "${flood_status[@]}") rss_mb_before=$before rss_mb_during=$(join "${during[@]}") rss_mb_after=$after non_2xx_per_s=$(join "${busy[@]}")"
