#!/usr/bin/env bash
# Regenerates every figure in BENCHMARKS.md: criterion benches (bridge, queries on SQLite,
# PostgreSQL and MySQL), the dashboard-vs-latency table and its SVG, streaming memory.
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
python3 scripts/plot_dashboard.py "$out/dashboard_latency.csv" docs/dashboard_latency.svg
cargo run --release --example stream_memory 2>&1 | tee "$out/stream_memory.txt"
echo "results in $out/"
