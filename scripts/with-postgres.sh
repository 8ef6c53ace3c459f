#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL: a new cluster (initdb) in a temp directory, on a
# free port of 127.0.0.1, removed when the command ends, however it ends. The command finds the
# server in MP_SESSION_TEST_POSTGRES (postgres://mp@127.0.0.1:PORT, no database part).
#   bash scripts/with-postgres.sh cargo test -p mp-session-server
# Debian's postgresql package is installed when missing. A machine where that fails stops here
# with the reason: the PostgreSQL suites never pass by being skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[postgres] %s\n' "$*"; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
if [ -z "$(pg_bin)" ]; then
  log "PostgreSQL is not installed: installing Debian's postgresql package"
  if [ "$(id -u)" = 0 ]; then sudo_cmd=(); else sudo_cmd=(sudo); fi
  if ! { "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq postgresql >/dev/null; }; then
    echo "with-postgres: PostgreSQL is missing and apt-get could not install it; the PostgreSQL suites cannot run (install Debian's postgresql package)" >&2
    exit 1
  fi
fi
bin=$(pg_bin)
[ -x "$bin/initdb" ] || { echo "with-postgres: no initdb in $bin" >&2; exit 1; }

dir=$(mktemp -d /tmp/mp-session-pg.XXXXXX)
# initdb refuses to run as root: as root, the cluster belongs to the postgres user.
as_owner=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "with-postgres: running as root, but there is no postgres user to own the cluster" >&2; exit 1; }
  chown postgres "$dir"
  as_owner=(runuser -u postgres --)
fi
stop() {
  "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U mp --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
# fsync off: the tests kill server processes, never PostgreSQL, and a cluster lives one run.
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (throwaway cluster in $dir)"
MP_SESSION_TEST_POSTGRES="postgres://mp@127.0.0.1:$port" "$@"
