#!/usr/bin/env bash
# Regenerates tests/corpus_expected.txt: starts a private PostgreSQL 15 on a
# temporary directory, runs tests/corpus.rs against it (the SQLite
# sqllogictest corpus in ../shared/sqllogictest), and stops it again.
#
#     scripts/corpus_on_postgres.sh            # port 5499 unless PORT is set
#
# PostgreSQL refuses to run as root, so as root the server runs as the
# `postgres` user. fsync is off: the server's data is thrown away anyway.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${PORT:-5499}
PATH=$PATH:$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
dir=$(mktemp -d /tmp/basalt-corpus-pg.XXXXXX)
as_postgres() {
    if [ "$(id -u)" = 0 ]; then su postgres -c "PATH='$PATH'; $1"; else bash -c "$1"; fi
}
[ "$(id -u)" = 0 ] && chown postgres "$dir"

as_postgres "initdb -D '$dir/data' -U postgres" >"$dir/initdb.log"
as_postgres "pg_ctl -D '$dir/data' -w -l '$dir/server.log' \
    -o '-p $port -k $dir -c listen_addresses= -c fsync=off -c synchronous_commit=off' start" >/dev/null
trap 'as_postgres "pg_ctl -D '"'$dir/data'"' -m fast -w stop" >/dev/null; rm -rf "$dir"' EXIT

BASALT_CORPUS_POSTGRES="host=$dir port=$port user=postgres" \
    cargo test --release --test corpus -- sqlite_corpus --nocapture
