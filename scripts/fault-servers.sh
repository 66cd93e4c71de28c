#!/usr/bin/env bash
# Database servers of their own for the fault-injection tests, which restart, stop and kill them:
# a PostgreSQL cluster `<version> fault` on 127.0.0.1:5434 and a second MariaDB server on
# 127.0.0.1:3307. The main servers (PostgreSQL 5432, MariaDB 3306) and the replica (5433, see
# scripts/pg-replica.sh) are never touched: every signal goes to a pid that has been checked to be
# one of the two fault servers. Idempotent: the servers are created once, and every subcommand
# returns only when its server is ready (or fully down), or fails (non-zero, reason on stderr) after
# $DUETTO_FAULT_TIMEOUT seconds (default 60).
#
#   scripts/fault-servers.sh [up]                        # create if missing, start if down
#   scripts/fault-servers.sh --env                       # same, then print the test variables
#   scripts/fault-servers.sh restart postgres|mysql      # graceful stop, then start
#   scripts/fault-servers.sh stop    postgres|mysql      # graceful stop; returns when the port is closed
#   scripts/fault-servers.sh start   postgres|mysql      # start; returns when it accepts connections
#   scripts/fault-servers.sh kill    postgres|mysql      # SIGKILL the main process (a crash); `start` recovers
#
# The tests read (printed by --env, nothing else goes to stdout; logs go to stderr):
#   DUETTO_TEST_FAULT_POSTGRES_URL  postgres://postgres@127.0.0.1:5434/test
#   DUETTO_TEST_FAULT_MYSQL_URL     mysql://root@127.0.0.1:3307/test
#   DUETTO_TEST_FAULT_SCRIPT        this script's absolute path (the tests call its subcommands)
set -euo pipefail

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
TIMEOUT=${DUETTO_FAULT_TIMEOUT:-60}

PG_PORT=5434 PG_CLUSTER=fault
# shellcheck disable=SC2012 # (as in pg-replica.sh: the directories are version numbers)
PG_VERSION=$(ls /etc/postgresql | sort -V | tail -n1)
PG_DATA=/var/lib/postgresql/$PG_VERSION/$PG_CLUSTER
PG_ETC=/etc/postgresql/$PG_VERSION/$PG_CLUSTER
PG_LOG=/var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log
PG_SOCKDIR=/var/run/postgresql # Debian's unix_socket_directories

MY_PORT=3307
MY_DIR=/var/lib/duetto-fault-mariadb
MY_CNF=$MY_DIR/my.cnf
MY_DATA=$MY_DIR/data
MY_RUN=$MY_DIR/run
MY_SOCK=$MY_RUN/mariadbd.sock
MY_PIDFILE=$MY_RUN/mariadbd.pid
MY_LOG=$MY_DIR/log/error.log
# The server runs from a private copy of the binary: the main server is started with
# `start-stop-daemon --start --oknodo --exec /usr/sbin/mariadbd`, which matches any process whose
# executable is /usr/sbin/mariadbd, so with the stock binary a running fault server would turn
# that command into a no-op (and `--stop --exec`, `pidof mariadbd`, `killall mariadbd` would hit it).
MY_BIN=$MY_DIR/duetto-fault-mariadbd
MY_ARGV="$MY_BIN --defaults-file=$MY_CNF"

# Only the environment lines may reach stdout (fd 3 from here on): everything else, ours and the
# tools', goes to stderr.
exec 3>&1 1>&2

log() { echo "fault-servers: $*" >&2; }
die() { echo "fault-servers: error: $*" >&2; exit 1; }

# A process that exists and is not a zombie (orphans may wait a while to be reaped by pid 1).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ -n $stat && ${stat:0:1} != Z ]]
}

# The command line of a process, its arguments joined by spaces.
cmdline() {
  local -a argv
  mapfile -d '' -t argv 2>/dev/null <"/proc/$1/cmdline" || return 1
  echo "${argv[*]}"
}

# Polls "$@" every 0.1 s until it succeeds; fails the script after $TIMEOUT seconds.
wait_until() {
  local what=$1 i
  shift
  for ((i = 0; i < TIMEOUT * 10; i++)); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  die "timed out after ${TIMEOUT}s waiting for $what"
}

# Whether something accepts TCP connections on 127.0.0.1:$1 (protocol-agnostic).
port_open() { timeout 2 bash -c "exec 9<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Rewrites $1 with $2 unless it already holds exactly that; succeeds only when it wrote.
write_if_changed() {
  if [[ -f $1 && $(cat "$1") == "$2" ]]; then return 1; fi
  printf '%s\n' "$2" >"$1"
}

# Becomes "$@" with every descriptor above stderr closed; only for an asynchronous command
# (`detached server ... &`), whose forked shell it replaces, so that nothing stays between us and
# the server. The server would otherwise inherit our real stdout, our locks and whatever the caller
# leaked to us, and whoever waits on those (`$(scripts/fault-servers.sh --env)`, the next
# invocation's flock) would wait as long as it lives.
detached() {
  local fd
  for fd in /proc/"$BASHPID"/fd/*; do
    fd=${fd##*/}
    if ((fd > 2)); then eval "exec $fd>&-"; fi
  done
  exec "$@"
}

# One invocation at a time per server (the tests may run concurrently); held until exit.
lock() {
  local fd=$1 name=$2
  eval "exec $fd>/run/lock/duetto-fault-$name.lock"
  flock -w "$TIMEOUT" "$fd" || die "another fault-servers.sh held the $name lock for ${TIMEOUT}s"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL: a Debian cluster driven with pg_ctlcluster.

# The postmaster's pid, if it runs. A stale postmaster.pid may name a pid reused by something
# else: a postmaster's working directory is its data directory.
pg_pid() {
  local pid
  [[ -r $PG_DATA/postmaster.pid ]] || return 1
  read -r pid <"$PG_DATA/postmaster.pid" || return 1
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && [[ $(readlink "/proc/$pid/cwd") == "$PG_DATA" ]] || return 1
  echo "$pid"
}

# As postgres: a ping as root would log "role root does not exist" each time.
pg_ready() { pg_isready -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -q; }

PG_CHILDREN=()
pg_down() {
  local child
  pg_pid >/dev/null && return 1
  for child in "${PG_CHILDREN[@]}"; do alive "$child" && return 1; done
  ! port_open "$PG_PORT"
}

pg_ensure() {
  local changed='' port
  port=$(pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c {print $3}')
  if [[ -z $port ]]; then
    log "creating PostgreSQL cluster $PG_VERSION/$PG_CLUSTER on port $PG_PORT"
    pg_createcluster "$PG_VERSION" "$PG_CLUSTER" -p "$PG_PORT"
    port=$PG_PORT
  fi
  [[ $port == "$PG_PORT" ]] || die "cluster $PG_VERSION/$PG_CLUSTER is on port $port, not $PG_PORT"
  # Nothing here needs to survive an OS crash, only a server crash: without fsync (and full page
  # writes) a shutdown checkpoint is instant, and the page cache still holds every committed
  # write after a SIGKILL, so crash recovery loses nothing (synchronous_commit stays on for that).
  if write_if_changed "$PG_ETC/conf.d/fault.conf" "# Written by scripts/fault-servers.sh (the fault-injection tests' own cluster).
listen_addresses = '127.0.0.1'
fsync = off
full_page_writes = off
shared_buffers = 16MB
autovacuum = off"; then changed=1; fi
  # Same trust rules as the CI primary: tests connect as postgres without a password.
  if write_if_changed "$PG_ETC/pg_hba.conf" "local all all trust
host all all 127.0.0.1/32 trust"; then changed=1; fi
  if [[ -n $changed ]] && pg_pid >/dev/null; then
    log "configuration of $PG_VERSION/$PG_CLUSTER changed: restarting it"
    pg_stop
  fi
}

# A SIGKILLed postmaster stays a zombie until pid 1 reaps it (about a second on this VM), and for
# so long PostgreSQL's own check (kill(pid, 0)) takes the lock files naming it for a live server's.
pg_clear_stale_locks() {
  local f pid
  for f in "$PG_DATA/postmaster.pid" "$PG_SOCKDIR/.s.PGSQL.$PG_PORT.lock"; do
    if [[ -f $f ]] && read -r pid <"$f" && [[ $pid =~ ^[0-9]+$ ]] && ! alive "$pid"; then
      log "removing $f (its postmaster $pid is dead)"
      rm -f "$f"
    fi
  done
}

PG_LAUNCHED=
pg_ready_or_dead() {
  pg_ready && return 0
  if [[ -n $PG_LAUNCHED ]] && ! alive "$PG_LAUNCHED"; then
    tail -n 20 "$PG_LOG" >&2 || true
    die "PostgreSQL $PG_VERSION/$PG_CLUSTER exited while starting (log: $PG_LOG)"
  fi
  return 1
}

pg_start() {
  pg_ensure
  if ! pg_pid >/dev/null; then
    port_open "$PG_PORT" && die "something that is not cluster $PG_VERSION/$PG_CLUSTER listens on port $PG_PORT"
    pg_clear_stale_locks
    log "starting PostgreSQL $PG_VERSION/$PG_CLUSTER"
    # In the foreground, in a session of its own, rather than `pg_ctlcluster start`: that one
    # returns only after probing the new server 3 times at 0.5 s intervals (a restart took 2.8 s
    # with it, 0.6 s without). pg_ctlcluster execs the postmaster (so $! is its pid), whose output
    # goes to the cluster's log (--stdlog).
    detached setsid pg_ctlcluster --skip-systemctl-redirect --foreground --stdlog \
      "$PG_VERSION" "$PG_CLUSTER" start </dev/null &
    PG_LAUNCHED=$!
  fi
  wait_until "PostgreSQL on port $PG_PORT to accept connections" pg_ready_or_dead
  if [[ -z $(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qAt \
    -c "SELECT 1 FROM pg_database WHERE datname = 'test'") ]]; then
    log "creating database test on port $PG_PORT"
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qAt -c "CREATE DATABASE test OWNER postgres"
  fi
}

pg_stop() {
  if pg_pid >/dev/null; then
    log "stopping PostgreSQL $PG_VERSION/$PG_CLUSTER"
    pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" stop -m fast
  fi
  wait_until "PostgreSQL on port $PG_PORT to be down" pg_down
}

# SIGKILL on the postmaster only, as a crash would. Its children notice the postmaster's death and
# exit by themselves (idle sessions at once); the few still busy after 10 s are killed too, since a
# new postmaster refuses to start while any of them holds the old shared memory.
pg_kill() {
  local pid child i
  if pid=$(pg_pid); then
    mapfile -t PG_CHILDREN < <(pgrep -P "$pid" || true)
    log "killing PostgreSQL $PG_VERSION/$PG_CLUSTER (SIGKILL to postmaster $pid)"
    kill -KILL "$pid"
    for ((i = 0; i < 100; i++)); do pg_down && break; sleep 0.1; done
    for child in "${PG_CHILDREN[@]}"; do
      if alive "$child"; then log "backend $child outlived its postmaster: SIGKILL"; kill -KILL "$child" 2>/dev/null || true; fi
    done
  fi
  wait_until "PostgreSQL on port $PG_PORT to be down" pg_down
}

pg_restart() { pg_stop; pg_start; }

# ---------------------------------------------------------------------------------------------
# MariaDB: a server of its own (datadir, socket, pid file, port), reading only $MY_CNF.

my_admin() { mariadb-admin --no-defaults --protocol=TCP -h 127.0.0.1 -P "$MY_PORT" -u root --connect-timeout=2 "$@"; }
# Before root@127.0.0.1 exists (a fresh datadir) TCP pings are refused (1130), so the socket tells
# whether the server is up (root@localhost authenticates the OS root by unix socket).
my_ready() {
  my_admin ping >/dev/null 2>&1 ||
    { mariadb-admin --no-defaults -S "$MY_SOCK" -u root ping >/dev/null 2>&1 && port_open "$MY_PORT"; }
}
my_usable() {
  mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$MY_PORT" -u root --connect-timeout=2 test -e 'SELECT 1' >/dev/null 2>&1
}

# The server's pid, if it runs: the pid file's (checked against the command line), or, before the
# server has written it, the process started with our exact command line.
my_pid() {
  local pid=
  if [[ -r $MY_PIDFILE ]] && read -r pid <"$MY_PIDFILE" && [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" &&
    [[ $(cmdline "$pid") == "$MY_ARGV" ]]; then
    echo "$pid"
    return 0
  fi
  pid=$(pgrep -f -x -- "${MY_ARGV//./\\.}" | head -n1) || true # (the paths' only regex character)
  [[ -n $pid ]] && alive "$pid" || return 1
  echo "$pid"
}

my_down() { ! my_pid >/dev/null && ! port_open "$MY_PORT"; }

# start-stop-daemon may return before its detached child has exec'd the server: a missing process
# counts as dead only after 2 s.
MY_START_POLLS=0
my_ready_or_dead() {
  my_ready && return 0
  if ((++MY_START_POLLS > 20)) && ! my_pid >/dev/null; then
    tail -n 20 "$MY_LOG" >&2 || true
    die "MariaDB on port $MY_PORT exited while starting (log: $MY_LOG)"
  fi
  return 1
}

my_ensure() {
  local changed=''
  mkdir -p "$MY_DIR" "$MY_DATA" "$MY_RUN" "$(dirname "$MY_LOG")"
  chown mysql:mysql "$MY_DATA" "$MY_RUN" "$(dirname "$MY_LOG")"
  # Refreshed after a package upgrade; mv keeps a running server's old inode valid.
  if ! cmp -s /usr/sbin/mariadbd "$MY_BIN"; then
    cp /usr/sbin/mariadbd "$MY_BIN.new" && mv -f "$MY_BIN.new" "$MY_BIN"
    changed=1
  fi
  # --defaults-file: only this file is read, never /etc/mysql (port 3306, the main socket and
  # datadir). Speed of restart and crash recovery over durability against an OS crash: no buffer
  # pool dump/load, no doublewrite, and the redo log written (not flushed) at each commit, which a
  # SIGKILL does not lose.
  if write_if_changed "$MY_CNF" "# Written by scripts/fault-servers.sh (the fault-injection tests' own MariaDB server).
[mysqld]
user = mysql
basedir = /usr
datadir = $MY_DATA
socket = $MY_SOCK
pid-file = $MY_PIDFILE
log-error = $MY_LOG
port = $MY_PORT
bind-address = 127.0.0.1
skip-name-resolve
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
innodb_buffer_pool_size = 32M
innodb_buffer_pool_dump_at_shutdown = OFF
innodb_buffer_pool_load_at_startup = OFF
innodb_doublewrite = OFF
innodb_flush_log_at_trx_commit = 2"; then changed=1; fi
  if [[ -n $changed ]] && my_pid >/dev/null; then
    log "configuration or binary of the MariaDB fault server changed: restarting it"
    my_stop
  fi
  # The marker is written last: an interrupted initialisation is redone from an empty datadir.
  if [[ ! -f $MY_DIR/.initialised ]]; then
    my_pid >/dev/null && die "MariaDB on port $MY_PORT runs but $MY_DIR/.initialised is missing"
    log "initialising the MariaDB fault server in $MY_DATA"
    find "$MY_DATA" -mindepth 1 -delete
    mariadb-install-db --defaults-file="$MY_CNF" --skip-test-db --auth-root-authentication-method=socket
    touch "$MY_DIR/.initialised"
  fi
}

my_start() {
  my_ensure
  if ! my_pid >/dev/null; then
    port_open "$MY_PORT" && die "something that is not the MariaDB fault server listens on port $MY_PORT"
    log "starting the MariaDB fault server on port $MY_PORT"
    # --background detaches (setsid) and closes every inherited fd: the server outlives us and
    # holds none of our caller's pipes. The pid file only tells it whether ours already runs.
    start-stop-daemon --start --background --pidfile "$MY_PIDFILE" --exec "$MY_BIN" -- --defaults-file="$MY_CNF"
  fi
  wait_until "MariaDB on port $MY_PORT to accept connections" my_ready_or_dead
  if ! my_usable; then
    # root@localhost authenticates by unix socket as the OS root; the tests need root over TCP
    # without a password, as on the main server.
    log "creating root@127.0.0.1 and database test on port $MY_PORT"
    mariadb --no-defaults -S "$MY_SOCK" -u root <<'SQL'
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS test;
SQL
    my_usable || die "root@127.0.0.1 cannot use database test on port $MY_PORT"
  fi
}

# SIGTERM is mariadbd's normal shutdown; it returns once the process has exited.
my_stop() {
  local pid
  if pid=$(my_pid); then
    log "stopping the MariaDB fault server (SIGTERM to $pid)"
    kill -TERM "$pid"
  fi
  wait_until "MariaDB on port $MY_PORT to be down" my_down
}

my_kill() {
  local pid
  if pid=$(my_pid); then
    log "killing the MariaDB fault server (SIGKILL to $pid)"
    kill -KILL "$pid"
  fi
  wait_until "MariaDB on port $MY_PORT to be down" my_down
}

my_restart() { my_stop; my_start; }

# ---------------------------------------------------------------------------------------------

usage() { sed -n 's|^#   \(scripts/fault-servers.sh \)|\1|p' "$SCRIPT" >&2; }

[[ $(id -u) == 0 ]] || die "run as root (it creates clusters, data directories and starts servers)"

case "${1:-up}" in
  up | --env)
    lock 8 postgres
    pg_start
    lock 9 mysql
    my_start
    if [[ "${1:-}" == "--env" ]]; then
      {
        echo "DUETTO_TEST_FAULT_POSTGRES_URL=postgres://postgres@127.0.0.1:$PG_PORT/test"
        echo "DUETTO_TEST_FAULT_MYSQL_URL=mysql://root@127.0.0.1:$MY_PORT/test"
        echo "DUETTO_TEST_FAULT_SCRIPT=$SCRIPT"
      } >&3
    fi
    ;;
  start | stop | restart | kill)
    case "${2:-}" in
      postgres) lock 8 postgres && "pg_$1" ;;
      mysql | mariadb) lock 9 mysql && "my_$1" ;;
      *) usage; exit 2 ;;
    esac
    ;;
  -h | --help) usage ;;
  *) usage; exit 2 ;;
esac
