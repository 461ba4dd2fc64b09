#!/usr/bin/env bash
# The PostgreSQL suites: installs Debian's postgresql package when it is
# missing, starts a private cluster (initdb into a temporary directory, owned
# by a non-root user, listening on 127.0.0.1 only), runs every test that
# needs CHORUS_POSTGRES_URL against it, and stops it.
#
# CHORUS_PG_PORT overrides the port (55433).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
port="${CHORUS_PG_PORT:-55433}"

echo "== PostgreSQL"
pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(pgbin)" ] || [ ! -x "$(pgbin)/initdb" ]; then
  echo "installing postgresql"
  aptlog=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; } >"$aptlog" 2>&1; then
    cat "$aptlog"; echo "could not install Debian's postgresql package"; exit 1
  fi
  rm -f "$aptlog"
fi
bin=$(pgbin)
[ -x "$bin/initdb" ] || { echo "the postgresql package left no initdb under /usr/lib/postgresql"; exit 1; }

# PostgreSQL refuses to run as root: run it as the postgres user the
# package creates (or as whoever runs this script when it is not root).
as=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "running as root and there is no postgres user to run the server"; exit 1; }
  as=(runuser -u postgres --)
fi

dir=$(mktemp -d /tmp/chorus-ci-pg.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
stop() {
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

"${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U chorus -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log"; echo "initdb failed"; exit 1; }
if ! "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null; then
  cat "$dir/server.log"; echo "PostgreSQL did not start on 127.0.0.1:$port (is the port taken? set CHORUS_PG_PORT)"; exit 1
fi
psql -q -h 127.0.0.1 -p "$port" -U chorus -d postgres -c 'CREATE DATABASE chorus'
export CHORUS_POSTGRES_URL="postgres://chorus@127.0.0.1:$port/chorus?sslmode=disable"
echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"

echo "== the PostgreSQL store (race detector), its durability test and example"
# The store's suites, single-owner and shared mode (TestShared*: the
# conformance of several stores on one database, and two engines of which
# one dies and the other adopts its runs).
go test -count=1 -race ./history/postgres/
# The subpackages without -race: the child-process durability tests, an
# owner and its standby (TestKillOwnerTakeover) and three engine processes
# in shared mode, one at a time killed or paused (TestKillSharedEngines).
killlog=$(mktemp)
if ! go test -count=1 -v $(go list ./history/postgres/... | grep -v '/history/postgres$') >"$killlog" 2>&1; then
  cat "$killlog"; echo "the kill tests failed"; exit 1
fi
grep -E '^(--- |ok )|kills [0-9]' "$killlog" || true
rm -f "$killlog"
go test -count=1 ./examples/postgres/
go run ./examples/postgres

echo "== the bench's shared-mode W1 with 1 and 2 engine processes (a smoke test, -short)"
benchout=$(cd bench && go run . -short -only w1 -engines chorus-pg -processes 1,2 2>&1) || { echo "$benchout"; echo "the bench failed"; exit 1; }
if ! grep -q 'shared mode, 2 engine processes, one database (workflows/s) |  | [0-9]' <<<"$benchout"; then
  echo "$benchout"; echo "the bench's shared-mode W1 gave no figure"; exit 1
fi
grep 'shared mode' <<<"$benchout"

echo "== the chorus command and its dashboard on PostgreSQL"
go test -count=1 -run 'Postgres' ./internal/cli/

echo "== remote workers with a PostgreSQL hub"
go test -count=1 -race -run Postgres ./remote/
