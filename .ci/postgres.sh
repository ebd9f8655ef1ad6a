#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite.
#
#   source .ci/postgres.sh          # start it; exports ACTIVERECORD_TEST_POSTGRES_DSN,
#                                   # stops it when the sourcing shell exits
#   bash .ci/postgres.sh CMD ...    # start it, run CMD with the DSN set, stop it
#
# Installs the server with apt-get only when no initdb is found. The cluster lives
# in a temp dir, listens on 127.0.0.1 only, on a free port, and is removed at the end.

ar_pg_find_bindir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && AR_PG_BIN="$d"
    done
    [ -n "${AR_PG_BIN:-}" ]
}

ar_pg_install() {
    echo "== postgres: installing the server with apt-get"
    # Debian's package would create and start a default cluster; we make our own.
    mkdir -p /etc/postgresql-common
    [ -f /etc/postgresql-common/createcluster.conf ] || \
        echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends postgresql >/dev/null
}

ar_pg_as_owner() {
    # initdb and postgres refuse to run as root.
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$AR_PG_OWNER" -- "$@"
    else
        "$@"
    fi
}

ar_pg_stop() {
    if [ -n "${AR_PG_DIR:-}" ] && [ -d "$AR_PG_DIR" ]; then
        ar_pg_as_owner "$AR_PG_BIN/pg_ctl" -D "$AR_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$AR_PG_DIR"
        echo "== postgres: stopped"
    fi
    AR_PG_DIR=""
}

ar_pg_start() {
    ar_pg_find_bindir || ar_pg_install
    ar_pg_find_bindir || { echo "postgres: no initdb after install" >&2; return 1; }
    AR_PG_OWNER=$(id -un)
    if [ "$(id -u)" = 0 ]; then
        AR_PG_OWNER=postgres
        id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    fi
    AR_PG_DIR=$(mktemp -d /tmp/ar-postgres.XXXXXX)
    chmod 755 "$AR_PG_DIR"
    chown "$AR_PG_OWNER" "$AR_PG_DIR"
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    ar_pg_as_owner "$AR_PG_BIN/initdb" -D "$AR_PG_DIR/data" -U postgres -A trust -E UTF8 \
        --locale=C.UTF-8 >"$AR_PG_DIR/initdb.log" 2>&1 \
        || { cat "$AR_PG_DIR/initdb.log" >&2; return 1; }
    # A test server: durability off for speed, loopback only, socket in our dir.
    ar_pg_as_owner "$AR_PG_BIN/pg_ctl" -D "$AR_PG_DIR/data" -l "$AR_PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $AR_PG_DIR -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null \
        || { cat "$AR_PG_DIR/server.log" >&2; return 1; }
    "$AR_PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres activerecord_test \
        || { cat "$AR_PG_DIR/server.log" >&2; return 1; }
    export ACTIVERECORD_TEST_POSTGRES_DSN="postgresql://postgres@127.0.0.1:$port/activerecord_test"
    echo "== postgres: $("$AR_PG_BIN/postgres" --version) at $ACTIVERECORD_TEST_POSTGRES_DSN"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    # Sourced: keep the server for the rest of the calling script.
    trap ar_pg_stop EXIT
    ar_pg_start || return 1
else
    set -euo pipefail
    trap ar_pg_stop EXIT
    ar_pg_start
    if [ $# -gt 0 ]; then
        "$@"
    fi
fi
