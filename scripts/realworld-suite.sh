#!/usr/bin/env bash
# Runs the official RealWorld Postman suite against examples/conduit, as the RealWorld project's
# own run-api-tests.sh does: newman with APIURL, USERNAME, EMAIL and PASSWORD as global variables.
# Installs newman from the npm registry into target/newman if it is not there, starts the example
# on a fresh database, and exits non-zero on any failed assertion.
#
#   scripts/realworld-suite.sh                       # embedded SQLite
#   scripts/realworld-suite.sh postgres://postgres@127.0.0.1:5432/conduit   # a fresh database there
set -euo pipefail
cd "$(dirname "$0")/.."

# The official collection from ../shared/realworld when this checkout sits beside it, else the
# byte-identical copy kept in tests/realworld (CI clones the repository elsewhere).
COLLECTION=${COLLECTION:-../shared/realworld/Conduit.postman_collection.json}
if [[ ! -f $COLLECTION ]]; then
  COLLECTION=tests/realworld/Conduit.postman_collection.json
fi
PORT=${PORT:-3111}
URL=${1:-}

newman=target/newman/node_modules/.bin/newman
if [[ ! -x $newman ]]; then
  echo "--- installing newman into target/newman"
  mkdir -p target/newman
  npm install --silent --no-audit --no-fund --prefix target/newman newman@6 >/dev/null
fi

# Every request runs in a request scope with live N+1 detection: a statement shape repeated more
# than twice by one line of code in one request is logged, and fails the run below.
args=(--port "$PORT" --detect-n-plus-one 2)
if [[ -n $URL ]]; then
  # A fresh database: drop and recreate the one the URL names.
  name=${URL##*/}
  case $URL in
    postgres*)
      admin=${URL%/*}/postgres
      psql "$admin" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" -c "CREATE DATABASE \"$name\""
      ;;
    mysql*)
      mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS \`$name\`; CREATE DATABASE \`$name\`"
      ;;
  esac
  args+=(--database-url "$URL")
fi

cargo build -q --example conduit
log=$(mktemp)
target/debug/examples/conduit "${args[@]}" 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  if curl -fs "http://127.0.0.1:$PORT/api/tags" >/dev/null; then break; fi
  sleep 0.2
done

USERNAME=u$(date +%s)$RANDOM
"$newman" run "$COLLECTION" \
  --delay-request 10 \
  --global-var "APIURL=http://127.0.0.1:$PORT/api" \
  --global-var "USERNAME=$USERNAME" \
  --global-var "EMAIL=$USERNAME@mail.com" \
  --global-var "PASSWORD=password"

if grep -q "duetto::n_plus_one" "$log"; then
  echo "error: the N+1 detector reported repeated statements during the suite:" >&2
  grep "duetto::n_plus_one" "$log" >&2
  exit 1
fi
echo "N+1 detector: nothing reported during the suite"
