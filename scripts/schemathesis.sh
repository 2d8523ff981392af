#!/usr/bin/env bash
# Checks the API against its own OpenAPI document with Schemathesis 4.x
# (pip install 'schemathesis>=4.3,<5'): starts the zero-setup server in a
# temporary directory, signs a user up (as docs/api.md does), and runs every
# check with that user's token. Extra arguments go to `schemathesis run`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v schemathesis >/dev/null || { echo "install Schemathesis: pip install 'schemathesis>=4.3,<5'" >&2; exit 2; }
cargo build --quiet -p skymailing-server
BIN=$PWD/target/debug/skymailing
DIR=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
PORT=${PORT:-18471}
cd "$DIR"
RUST_LOG=warn "$BIN" serve --bind 127.0.0.1:$PORT --auth-rate-limit 100000 >"$DIR/log" 2>&1 &
PID=$!
cd - >/dev/null
API=http://127.0.0.1:$PORT/api/v1
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
json() { curl -sf -H 'content-type: application/json' "$@"; }
json -X POST "$API/auth/register" -d '{"email":"st@example.com","password":"correct horse","name":"St"}' >/dev/null
for _ in $(seq 50); do
  TOKEN=$(grep -hos 'verify?token=[0-9a-f]*' "$DIR"/outbox/*.eml | tail -1 | cut -d= -f2) || true
  [ -n "$TOKEN" ] && break
  sleep 0.2
done
json -X POST "$API/auth/verify" -d "{\"token\":\"$TOKEN\"}" >/dev/null
BEARER=$(json -X POST "$API/auth/login" -d '{"email":"st@example.com","password":"correct horse"}' | jq -r .token)
# Signing out and changing the password would end the token the run uses.
schemathesis --config-file scripts/schemathesis.toml run "http://127.0.0.1:$PORT/api/openapi.json" -H "Authorization: Bearer $BEARER" --checks all \
  --exclude-path-regex "^/(auth/logout|me/password)$" "$@"
