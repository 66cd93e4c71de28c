#!/usr/bin/env bash
# Starts a real streaming replica of the local PostgreSQL (127.0.0.1:5432) on port 5433, for the
# router and replica tests (tests/replicas.rs). Idempotent: creates the cluster once (a second
# Debian cluster `<version> replica`, filled by `pg_basebackup -R`), then only starts it if it is
# down. It never restarts the primary: allowing replication connections needs a reload only.
#
#   scripts/pg-replica.sh            # create if missing, start if stopped, wait until streaming
#   scripts/pg-replica.sh --env      # same, then print the test variables to `eval`
#
# The tests read:
#   DUETTO_TEST_POSTGRES_REPLICA_URL      postgres://postgres@127.0.0.1:5433/<db>
#   DUETTO_TEST_POSTGRES_REPLICA_CLUSTER  "<version> replica" (pg_ctlcluster's arguments; the
#                                         fault test stops and starts this cluster)
set -euo pipefail

PRIMARY_HOST=127.0.0.1 PRIMARY_PORT=5432 REPLICA_PORT=5433 CLUSTER=replica
VERSION=$(ls /etc/postgresql | sort -V | tail -n1)
DATA=/var/lib/postgresql/$VERSION/$CLUSTER
HBA=$(psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -qAt -c "SHOW hba_file")

as_postgres() { if [[ $(id -un) == postgres ]]; then "$@"; else runuser -u postgres -- "$@"; fi; }

# 1. The primary accepts replication connections from localhost (a reload, never a restart).
if ! grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32' "$HBA"; then
  echo "pg-replica: allowing replication connections in $HBA" >&2
  printf 'host replication all 127.0.0.1/32 trust\n' >>"$HBA"
  psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -qAt -c "SELECT pg_reload_conf()" >/dev/null
fi

# 2. The replica cluster, made once from a base backup of the primary.
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$VERSION $CLUSTER"; then
  echo "pg-replica: creating cluster $VERSION/$CLUSTER on port $REPLICA_PORT" >&2
  pg_createcluster "$VERSION" "$CLUSTER" -p "$REPLICA_PORT" >/dev/null
  # Conflicts with replay cancel long reads on a standby; feedback keeps them rare.
  printf "hot_standby = on\nhot_standby_feedback = on\nlisten_addresses = '127.0.0.1'\n" \
    >>"/etc/postgresql/$VERSION/$CLUSTER/conf.d/replica.conf"
  # Same trust rules as the CI primary: tests connect as postgres without a password.
  printf 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n' \
    >"/etc/postgresql/$VERSION/$CLUSTER/pg_hba.conf"
  as_postgres find "$DATA" -mindepth 1 -delete
  as_postgres pg_basebackup -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -D "$DATA" -R -X stream -c fast
fi
if [[ ! -f "$DATA/standby.signal" ]]; then
  echo "error: $DATA is not a standby (no standby.signal); remove the cluster with" >&2
  echo "  pg_dropcluster --stop $VERSION $CLUSTER   and run this script again" >&2
  exit 1
fi

# 3. Started (a no-op when it runs), then streaming from the primary.
if ! pg_isready -h 127.0.0.1 -p "$REPLICA_PORT" -q; then
  pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$CLUSTER" start
fi
for _ in $(seq 60); do
  if [[ $(psql -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -d postgres -qAt \
    -c "SELECT pg_is_in_recovery() AND status = 'streaming' FROM pg_stat_wal_receiver" 2>/dev/null) == t ]]; then
    # A replay paused by an interrupted test would keep the replica stale for ever.
    psql -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -d postgres -qAt -c "SELECT pg_wal_replay_resume()" >/dev/null
    if [[ "${1:-}" == "--env" ]]; then
      echo "export DUETTO_TEST_POSTGRES_REPLICA_URL=postgres://postgres@127.0.0.1:$REPLICA_PORT/postgres"
      echo "export DUETTO_TEST_POSTGRES_REPLICA_CLUSTER='$VERSION $CLUSTER'"
    fi
    exit 0
  fi
  sleep 1
done
echo "error: the replica on port $REPLICA_PORT is not streaming from the primary" >&2
exit 1
