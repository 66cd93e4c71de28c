#!/usr/bin/env bash
# Load on the Conduit example over PostgreSQL: seeds 5 authors × 20 tagged articles (a reader who
# follows 3 of them and favorites some), then runs wrk against `GET /api/articles` and
# `GET /api/articles/feed` on loopback, bounded in time, and prints req/s and p99.
#
#   scripts/conduit-load.sh [postgres://postgres@127.0.0.1:5432/conduit_load] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
URL=${1:-postgres://postgres@127.0.0.1:5432/conduit_load}
SECONDS_PER_RUN=${2:-10}
PORT=${PORT:-3444}
API=http://127.0.0.1:$PORT/api

if ! command -v wrk >/dev/null; then
  echo "--- installing wrk (Debian package)"
  apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
fi

name=${URL##*/}
psql "${URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" -c "CREATE DATABASE \"$name\""
cargo build -q --release --example conduit
target/release/examples/conduit --database-url "$URL" --port "$PORT" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  if curl -fs "$API/tags" >/dev/null; then break; fi
  sleep 0.2
done

post() { # path token json
  curl -fs -X POST "$API$1" -H "Content-Type: application/json" ${2:+-H "Authorization: Token $2"} -d "$3"
}
token_of() { sed -E 's/.*"token":"([^"]+)".*/\1/'; }

reader=$(post /users "" '{"user":{"username":"reader","email":"reader@example.com","password":"pw"}}' | token_of)
for w in 1 2 3 4 5; do
  token=$(post /users "" "{\"user\":{\"username\":\"author$w\",\"email\":\"author$w@example.com\",\"password\":\"pw\"}}" | token_of)
  if (( w <= 3 )); then post "/profiles/author$w/follow" "$reader" '{}' >/dev/null; fi
  for a in $(seq 20); do
    slug=$(post /articles "$token" "{\"article\":{\"title\":\"Article $a by $w\",\"description\":\"d\",\"body\":\"b\",\"tagList\":[\"t$((a % 4))\",\"load\"]}}" \
      | sed -E 's/.*"slug":"([^"]+)".*/\1/')
    if (( a % 3 == 0 )); then post "/articles/$slug/favorite" "$reader" '{}' >/dev/null; fi
  done
done

run() { # label, wrk args…
  local label=$1; shift
  local out
  out=$(wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" --latency "$@")
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  printf "%-28s %10s req/s   p99 %s\n" "$label" "$rps" "$p99"
}
echo "wrk -t2 -c32 -d${SECONDS_PER_RUN}s, PostgreSQL on loopback, 100 articles, pages of 20"
run "GET /api/articles" "$API/articles"
run "GET /api/articles/feed" -H "Authorization: Token $reader" "$API/articles/feed"
