#!/bin/sh
# tests/check_docs.sh: code quoted in docs/ is the code that is compiled
# (tests/check_docs.py), for `make check`.
exec /usr/bin/python3 "$PC_SRCDIR/tests/check_docs.py" "$PC_SRCDIR"
