#!/bin/sh
# scripts/build.sh BUILDDIR [configure options...]: an out-of-tree build.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=$1
shift
[ -x "$src/configure" ] || (cd "$src" && ./autogen.sh >/dev/null 2>&1)
mkdir -p "$build"
cd "$build"
"$src/configure" "$@" >/dev/null
make -j"$(nproc)" >/dev/null
echo "built $build/portcullis"
