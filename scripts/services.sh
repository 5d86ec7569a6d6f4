#!/usr/bin/env bash
# Starts what a cluster of p2pchat servers shares, on loopback: PostgreSQL (accounts, friendships,
# requests) and the NATS bus (presence, session brokering, node leases). Idempotent: what is
# installed is not installed again, what runs is not started again. No prompts (CI=true, no stdin).
#
#   scripts/services.sh           install if missing (needs root or sudo), start, create the role and database
#   scripts/services.sh --check   only say whether both answer (exit 1 if not)
#
# Afterwards the cluster tests run against them, and servers take
#   --store postgres://p2pchat:p2pchat@127.0.0.1:5432/p2pchat --bus nats://127.0.0.1:4222
set -euo pipefail

PG_VERSION_WANTED=15
PG_PORT=5432
NATS_PORT=4222
NATS_PID_FILE=/tmp/p2pchat-nats.pid
NATS_LOG_FILE=/tmp/p2pchat-nats.log
DB_NAME=p2pchat
DB_ROLE=p2pchat
DB_PASSWORD=p2pchat

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

port_open() {
  # bash's /dev/tcp: no client package needed to ask whether something listens.
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

if [ "${1:-}" = "--check" ]; then
  ok=0
  port_open "$PG_PORT" && echo "postgresql: listening on 127.0.0.1:$PG_PORT" || { echo "postgresql: NOT listening on 127.0.0.1:$PG_PORT"; ok=1; }
  port_open "$NATS_PORT" && echo "nats: listening on 127.0.0.1:$NATS_PORT" || { echo "nats: NOT listening on 127.0.0.1:$NATS_PORT"; ok=1; }
  exit $ok
fi

missing=()
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "services: installing ${missing[*]} from Debian's packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# PostgreSQL: the cluster Debian's package made (pg_lsclusters), started as its owner by pg_ctlcluster.
pg_version=$(pg_lsclusters --no-header 2>/dev/null | awk 'NR==1 {print $1}')
pg_cluster=$(pg_lsclusters --no-header 2>/dev/null | awk 'NR==1 {print $2}')
if [ -z "$pg_version" ]; then
  pg_version=$(ls /usr/lib/postgresql | sort -n | tail -1)
  pg_cluster=main
  echo "services: creating PostgreSQL cluster $pg_version/$pg_cluster"
  as_root pg_createcluster "$pg_version" "$pg_cluster" -p "$PG_PORT"
fi
[ "$pg_version" = "$PG_VERSION_WANTED" ] || echo "services: note: PostgreSQL $pg_version (tested with $PG_VERSION_WANTED)"
if ! port_open "$PG_PORT"; then
  echo "services: starting PostgreSQL $pg_version/$pg_cluster on 127.0.0.1:$PG_PORT"
  as_root pg_ctlcluster "$pg_version" "$pg_cluster" start
fi
for _ in $(seq 1 50); do port_open "$PG_PORT" && break; sleep 0.2; done
port_open "$PG_PORT" || { echo "services: PostgreSQL did not start (see /var/log/postgresql/)"; exit 1; }

psql_admin() {
  as_root runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qtA -p "$PG_PORT" "$@"
}
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_ROLE'")" != "1" ]; then
  echo "services: creating role $DB_ROLE"
  psql_admin -c "CREATE ROLE $DB_ROLE LOGIN PASSWORD '$DB_PASSWORD' CREATEDB"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != "1" ]; then
  echo "services: creating database $DB_NAME"
  psql_admin -c "CREATE DATABASE $DB_NAME OWNER $DB_ROLE"
fi

# NATS: one plain server on loopback, in the background (the Debian package's own unit is not
# started here: containers and CI have no systemd).
if ! port_open "$NATS_PORT"; then
  echo "services: starting nats-server on 127.0.0.1:$NATS_PORT"
  nohup nats-server -a 127.0.0.1 -p "$NATS_PORT" -P "$NATS_PID_FILE" >"$NATS_LOG_FILE" 2>&1 </dev/null &
  disown || true
fi
for _ in $(seq 1 50); do port_open "$NATS_PORT" && break; sleep 0.2; done
port_open "$NATS_PORT" || { echo "services: nats-server did not start (see $NATS_LOG_FILE)"; exit 1; }

echo "services: ready"
echo "  P2PCHAT_TEST_POSTGRES=postgres://$DB_ROLE:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME"
echo "  P2PCHAT_TEST_NATS=nats://127.0.0.1:$NATS_PORT"
