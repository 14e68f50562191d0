#!/bin/sh
# scripts/sdk-symbols.sh HEADER: prints a GNU ld dynamic list of the
# functions and variables HEADER (include/portcullis/plugin.h) declares.
#
# The gateway links with -Wl,--dynamic-list=<this list>, so a plugin loaded
# with dlopen can call exactly the SDK, while every other pc_* function of
# the core stays internal (not interposable, not a promise). Generated from
# the header itself so that a declaration added to plugin.h is exported
# without anyone remembering a second list.
#
# Comments and preprocessor lines are stripped (awk, not the preprocessor:
# nothing may be expanded, and clang has no -fpreprocessed); then every pc_* identifier followed by "(" is a function declaration (function
# pointer members are named without the pc_ prefix, function pointer
# typedefs are followed by ")", and types ending in _t are dropped, e.g.
# "pc_status_t (*on_headers)"), and an "extern ... pc_x;" line is a
# variable. pc_plugin_entry is what a plugin defines, not the gateway: it is
# left out.
set -eu
header=$1
strip_comments='
{ buf = buf $0 "\n" }
END {
    while ((i = index(buf, "/*")) > 0) {
        printf "%s ", substr(buf, 1, i - 1)
        buf = substr(buf, i + 2)
        j = index(buf, "*/")
        buf = j ? substr(buf, j + 2) : ""
    }
    printf "%s", buf
}'
syms=$(awk "$strip_comments" "$header" | sed -e 's#//.*##' -e '/^[[:space:]]*#/d' |
    { grep -oE '\bpc_[a-z0-9_]+[[:space:]]*\(|^extern[^;(]*\bpc_[a-z0-9_]+[[:space:]]*(\[[^]]*\])?;' || true; } |
    sed -E -e 's/\[[^]]*\];$//' -e 's/[;([:space:]]+$//' -e 's/.*[^a-z0-9_](pc_[a-z0-9_]+)$/\1/' |
    grep -v -e '_t$' -e '^pc_plugin_entry$' | LC_ALL=C sort -u)
if [ -z "$syms" ]; then
    echo "sdk-symbols.sh: no declarations found in $header" >&2
    exit 1
fi
echo "/* generated from $header by scripts/sdk-symbols.sh: do not edit */"
echo "{"
for s in $syms; do
    echo "    $s;"
done
echo "};"
