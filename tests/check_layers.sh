#!/bin/sh
# tests/check_layers.sh: `make check` fails on a dependency cycle among the
# gateway's modules, or on libmicrohttpd outside gateway/front/
# (scripts/check-layers.py, over the #include lines and nm of libpcore.a).
set -e
exec /usr/bin/python3 "$PC_SRCDIR/scripts/check-layers.py" "$PC_SRCDIR" "$PC_BUILDDIR/libpcore.a"
