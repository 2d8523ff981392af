# Shared by bench-http.sh and bench-scale.sh (sourced, not run): start the
# shipped server on a fresh store, make a signed-in account with clients, and
# load a route with wrk.
#
# Needs: bin (the binary), DB_NAME (the PostgreSQL database to create and
# drop, next to DATABASE_URL's, a superuser URL, else
# postgres://postgres@127.0.0.1:5432/postgres). Sets: base, api, db, server, dir,
# bearer (the user's token), admin (the administrator's token), and for each
# route loaded rps[name] (2xx answers per second) and p99[name] (ms).

if ! command -v wrk >/dev/null; then
  echo "installing wrk..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
fi

declare -A rps p99
pg_admin="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

# bench_start sqlite|pg: a fresh store and the server on a free port, engine on,
# mail to an outbox folder.
bench_start() {
  local store="$1" port
  dir="$(mktemp -d)"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  base="http://127.0.0.1:$port"
  api="$base/api/v1"
  if [ "$store" = pg ]; then
    psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $DB_NAME" -c "CREATE DATABASE $DB_NAME" >/dev/null
    db="${pg_admin%/*}/$DB_NAME"
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
}

# bench_stop sqlite|pg: the server stopped, its files and database gone.
bench_stop() {
  kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true
  trap - EXIT
  rm -rf "$dir"
  if [ "$1" = pg ]; then psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $DB_NAME" >/dev/null; fi
}

# bench_account: bench@example.com signed up, verified and signed in (bearer),
# and the administrator signed in (admin).
bench_account() {
  local json='content-type: application/json' token
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
}

# bench_import N: N clients (c1@client.test "Client 1" …, every tenth tagged
# vip) imported into the account as one CSV.
bench_import() {
  python3 -c "
print('email,full_name,tags')
for i in range(1, $1 + 1):
    print(f'c{i}@client.test,Client {i},' + ('vip' if i % 10 == 0 else ''))
" >"$dir/clients.csv"
  curl -sf -X POST "$api/clients/import" -H 'content-type: text/csv' -H "authorization: Bearer $bearer" \
    --data-binary "@$dir/clients.csv" >/dev/null
}

# bench_load store name url [wrk args...]: wrk (WRK_THREADS, WRK_CONNECTIONS,
# DURATION seconds) on url, after one request timed alone and (but with
# SHORT=1) a second of warm-up; rps[name], p99[name].
bench_load() {
  local store="$1" name="$2" url="$3" out non2xx first
  shift 3
  # One request first, timed on its own: a route's first answer may read what
  # the next ones reuse (the home figures, a long list's positions), and wrk
  # corrects for coordinated omission, so one slow request among thousands of
  # fast ones would be counted as hundreds of slow ones in the p99.
  # Then a second of load unmeasured: the server's database pool opens its
  # connections on demand, and each new PostgreSQL connection plans its
  # statements afresh (measured: list p99 77 ms in the first five seconds of
  # load after start, 8-10 ms in each of the next five).
  first=$(curl -s -o /dev/null -w '%{time_total}' "$@" "$url" | awk '{printf "%.1f", $1 * 1000}')
  if [ "${SHORT:-}" != 1 ]; then wrk -t"${WRK_THREADS:-2}" -c"${WRK_CONNECTIONS:-32}" -d1s "$@" "$url" >/dev/null; fi
  out=$(wrk -t"${WRK_THREADS:-2}" -c"${WRK_CONNECTIONS:-32}" -d"${DURATION}s" --latency "$@" "$url")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  # Successful answers per second: all requests less the failed ones, over the run.
  rps[$name]=$(awk -v bad="${non2xx:-0}" '/requests in/ {t=$4; sub(/s,?$/, "", t); printf "%d", ($1 - bad) / t}' <<<"$out")
  # wrk prints 812.00us, 8.05ms or 1.02s: all in milliseconds.
  p99[$name]=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}' <<<"$out")
  echo "$store $name: ${rps[$name]} req/s, p99 ${p99[$name]} ms (first request alone ${first} ms)${non2xx:+, $non2xx failed answers not counted}" >&2
}

# ratio A: A over rps[healthz], two decimals.
ratio() { awk -v a="$1" -v b="${rps[healthz]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
