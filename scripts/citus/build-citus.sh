#!/usr/bin/env bash
# Builds and installs Citus from a source folder you already have, against the PostgreSQL 15
# that pg_config names. It fetches nothing and is never run by npm scripts or tests: it is the
# written-down form of the steps in docs/citus.md, for a developer who wants a local cluster
# (`npm run test:citus`). Citus's code is never committed here.
#
#   git clone --branch v13.2.2 https://github.com/citusdata/citus /work/citus-src
#   sudo apt-get install --no-install-recommends \
#     postgresql-server-dev-15=<the installed postgresql-15 version> liblz4-dev libzstd-dev
#   scripts/citus/build-citus.sh /work/citus-src
#
# Pin postgresql-server-dev-15 to the version of the installed postgresql-15: an unpinned
# install upgrades the server package under running servers (docs/pitfalls.md).
# The server headers include <gssapi/gssapi.h> (libkrb5-dev). Where installing libkrb5-dev would
# upgrade the Kerberos libraries a running server has loaded, unpack its headers instead and
# name them in GSSAPI_INCLUDE (gcc reads CPATH):
#   apt-get download krb5-multidev libkrb5-dev && for f in *.deb; do dpkg -x "$f" root; done
#   GSSAPI_INCLUDE=$PWD/root/usr/include/mit-krb5 scripts/citus/build-citus.sh /work/citus-src
set -euo pipefail

src=${1:?usage: build-citus.sh <citus source folder> (a checkout of a v13.x tag)}
pg_config=${PG_CONFIG:-pg_config}
jobs=${JOBS:-1}

version=$("$pg_config" --version)
case "$version" in
  "PostgreSQL 15."*) ;;
  *) echo "build-citus.sh: $pg_config reports '$version'; querybudget runs on PostgreSQL 15" >&2; exit 1 ;;
esac
minor=${version#PostgreSQL 15.}
minor=${minor%% *}

if [ -n "${GSSAPI_INCLUDE:-}" ]; then
  export CPATH="$GSSAPI_INCLUDE${CPATH:+:$CPATH}"
fi

cd "$src"
echo "building Citus $(git describe --tags 2>/dev/null || echo '(no git tag)') against $version"

# Citus 13.2.2 defines its own have_createdb_privilege() for PostgreSQL < 16; PostgreSQL 15.20
# exports one too and the build stops on the redefinition. The guard below makes Citus's own
# copy apply only before 15.20. It edits the checkout, never this repository.
compat=src/include/pg_version_compat.h
if [ "$minor" -ge 20 ] && ! grep -q 'querybudget: have_createdb_privilege guard' "$compat"; then
  if grep -q '^have_createdb_privilege(void)' "$compat"; then
    echo "PostgreSQL 15.$minor: adding the have_createdb_privilege guard to $compat"
    python3 - "$compat" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
# the static inline definition for PostgreSQL < 16: wrap it in a version test
pattern = re.compile(r"(static inline bool\s*\nhave_createdb_privilege\(void\)\s*\n\{.*?\n\})", re.S)
if not pattern.search(text):
    sys.exit("have_createdb_privilege definition not found; adapt the guard by hand")
text = pattern.sub(
    r"/* querybudget: have_createdb_privilege guard (PostgreSQL 15.20 exports it) */\n"
    r"#if PG_VERSION_NUM < 150020\n\1\n#endif", text, count=1)
open(path, "w").write(text)
PY
  fi
fi

# libcurl only serves Citus's anonymous usage statistics: build without it.
if [ ! -f Makefile.global ] || [ configure -nt Makefile.global ]; then
  PG_CONFIG="$pg_config" ./configure --without-libcurl
fi
# Low priority: a shared build machine keeps its other work. with_llvm=no skips the LLVM
# bitcode for JIT inlining (querybudget runs with jit off), which halves the build.
nice -n 19 make -j"$jobs" with_llvm=no
make install with_llvm=no
echo "installed: $("$pg_config" --pkglibdir)/citus.so"
echo "next: put citus first in shared_preload_libraries (scripts/lib/citus-cluster.ts does it for the test cluster)"
