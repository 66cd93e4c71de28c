#!/usr/bin/env bash
# Regenerates every figure in BENCHMARKS.md: criterion benches (bridge, queries on SQLite,
# PostgreSQL and MySQL), the dashboard-vs-latency table and its SVG, streaming memory, relations
# and query shapes against SeaORM, and the observability overhead in instructions (pk_loop).
# Outputs land in target/bench-results/; copy the figures into BENCHMARKS.md.
#
#   scripts/bench.sh            # everything (about 20 minutes on 2 cores; the load bench needs wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/bench-results
mkdir -p "$out"

PG=${DUETTO_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/duetto_bench}
MY=${DUETTO_BENCH_MYSQL_URL:-mysql://root@127.0.0.1:3306/duetto_bench}
# Scratch databases: the benches drop and recreate their tables.
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS duetto_bench WITH (FORCE)" -c "CREATE DATABASE duetto_bench"
mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS duetto_bench; CREATE DATABASE duetto_bench"
export DUETTO_BENCH_POSTGRES_URL=$PG DUETTO_BENCH_MYSQL_URL=$MY

{ echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r)"; } >"$out/machine.txt"
cargo bench --bench bridge 2>&1 | tee "$out/bridge.txt"
cargo bench --bench queries 2>&1 | tee "$out/queries.txt"
cargo bench --bench dashboard 2>&1 | tee "$out/dashboard.txt"
cargo bench --bench load 2>&1 | tee "$out/load.txt"
cargo bench --bench relations 2>&1 | tee "$out/relations.txt"
cargo bench --bench shapes -- --warm-up-time 1 --measurement-time 3 2>&1 | tee "$out/shapes.txt"
# Recovery from server faults: restarts the fault servers of scripts/fault-servers.sh (never the
# main ones).
(set -a; eval "$(scripts/fault-servers.sh --env)"; set +a; cargo bench --bench recovery 2>&1 | tee "$out/recovery.txt")
# Observability overhead in instructions (needs valgrind): per-call = (I(6000) - I(2000)) / 4000.
if command -v valgrind >/dev/null; then
  cargo bench --bench pk_loop --no-run
  pk_loop=$(ls -t target/release/deps/pk_loop-* | grep -v '\.d$' | head -n1)
  for args in "2000" "6000" "2000 --subscriber" "6000 --subscriber"; do
    # shellcheck disable=SC2086
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$pk_loop" $args 2>&1 \
      | grep -E "per call|Collected" | sed "s/^/[$args] /" | tee -a "$out/pk_loop.txt"
  done
fi
python3 scripts/plot_dashboard.py "$out/dashboard_latency.csv" docs/dashboard_latency.svg
cargo run --release --example stream_memory 2>&1 | tee "$out/stream_memory.txt"
echo "results in $out/"
