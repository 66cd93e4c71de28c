#!/usr/bin/env bash
# Load-tests the example server's two dashboards with wrk and prints req/s and latency
# percentiles. Extra arguments go to the server (e.g. --database-url URL --latency-ms 5).
#
#   scripts/load-test.sh
#   DURATION=30s CONNECTIONS=64 scripts/load-test.sh --database-url postgres://postgres@127.0.0.1/test
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-8088}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
USERS=${USERS:-2000}

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk" >&2
  apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null
fi

cargo build -q --release --example server
./target/release/examples/server --port "$PORT" "$@" &
server=$!
trap 'kill -INT $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT

for _ in $(seq 120); do
  if (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; then break; fi
  sleep 0.5
done

script=$(mktemp)
printf '%s\n' \
  'local prefix = os.getenv("ROUTE")' \
  "request = function() return wrk.format('GET', prefix .. math.random(1, $USERS)) end" >"$script"

printf '%-18s %10s %10s %10s %8s\n' route req/s p50 p99 errors
for route in /sync/dashboard/ /async/dashboard/; do
  out=$(ROUTE=$route wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$script" "http://127.0.0.1:$PORT")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  sockerr=$(awk '/Socket errors/ {s = 0; for (i = 4; i <= NF; i += 2) s += $i; print s}' <<<"$out")
  printf '%-18s %10s %10s %10s %8s\n' "$route{id}" "$rps" "$p50" "$p99" "$(( ${non2xx:-0} + ${sockerr:-0} ))"
done
rm -f "$script"
