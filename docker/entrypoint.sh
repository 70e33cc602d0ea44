#!/bin/sh
# Initializes the cluster on first start, then runs the server in the foreground, as the
# postgres OS user. `postgres [-c name=value ...]` (the image's ENTRYPOINT, with the
# container's command appended as further options).
# The initialization runs postgres in single-user mode, which listens on nothing: the first
# time the server accepts a connection over TCP (what @testcontainers/postgresql's health
# check, pg_isready --host localhost, waits for) is the real server, with the database made.
set -eu

if [ "$(id -u)" = 0 ]; then
  # initdb and postgres refuse to run as root (a USER instruction would be one more layer)
  export HOME=/var/lib/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
user="${POSTGRES_USER:-postgres}"
database="${POSTGRES_DB:-$user}"
[ "${1:-}" = postgres ] && shift

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "querybudget entrypoint: set POSTGRES_PASSWORD (connections over TCP need it)" >&2
    exit 1
  fi
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 --no-instructions \
    ${POSTGRES_INITDB_ARGS:-} >/dev/null
  rm -f "$pwfile"
  # initdb allows TCP from the loopback only; a published port arrives from the bridge.
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "include '/etc/querybudget/querybudget.conf'" >>"$PGDATA/postgresql.conf"
  if [ "$database" != postgres ]; then
    # single-user mode listens on nothing; no preloaded libraries needed for CREATE DATABASE;
    # the server's options ("$@": a throwaway container's fsync = off) apply here too
    echo "create database \"$database\";" |
      postgres --single -D "$PGDATA" "$@" -c shared_preload_libraries= postgres >/dev/null
  fi
  echo "querybudget entrypoint: cluster initialized in $PGDATA, database $database" >&2
fi

exec postgres -D "$PGDATA" "$@"
